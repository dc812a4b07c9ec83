//! The KubeSec rule table (30 rules) and the predicates that count matches.
//!
//! The table is data compiled into the binary: ids, selectors, points and kinds are the
//! upstream facts (controlplaneio/kubesec, `pkg/ruler/ruleset.go`), so output and sort
//! order stay compatible; the reasons are written in our own words. Selectors are kept
//! byte for byte because they are printed and are the tie-breaker when sorting.

use serde_json::Value;

use super::gostr::go_string;

/// Kinds scored by the workload rules.
const WORKLOADS: &[&str] = &["Pod", "Deployment", "StatefulSet", "DaemonSet"];
/// Kinds scored by the secrets-in-environment rule.
const ENV_SECRET_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
];
const STATEFULSET: &[&str] = &["StatefulSet"];
const BINDINGS: &[&str] = &["RoleBinding", "ClusterRoleBinding"];

/// The test applied to a container's (or the pod's) security-context value.
#[derive(Debug, Clone, Copy)]
enum ValueTest {
    /// A JSON `true`.
    IsTrue,
    /// A number strictly greater than the bound.
    NumberAbove(f64),
    /// A string other than the given one.
    StringNot(&'static str),
    /// Exactly this string.
    StringIs(&'static str),
    /// Any non-null value whose Go `%v` rendering contains the text (case-sensitive).
    RenderingContains(&'static str),
    /// Any non-null value whose upper-cased Go `%v` rendering contains the text.
    RenderingContainsUpper(&'static str),
    /// A non-empty array without null items.
    NonEmptyArrayWithoutNull,
}

impl ValueTest {
    /// `None` when the value is unset for this test (absent, null or of the wrong type),
    /// otherwise whether it passes.
    fn check(self, value: Option<&Value>) -> Option<bool> {
        let value = value.filter(|v| !v.is_null())?;
        match self {
            ValueTest::IsTrue => value.as_bool(),
            ValueTest::NumberAbove(bound) => value.as_f64().map(|n| n > bound),
            ValueTest::StringNot(s) => value.as_str().map(|v| v != s),
            ValueTest::StringIs(s) => value.as_str().map(|v| v == s),
            ValueTest::RenderingContains(s) => Some(go_string(value).contains(s)),
            ValueTest::RenderingContainsUpper(s) => {
                Some(go_string(value).to_uppercase().contains(s))
            }
            ValueTest::NonEmptyArrayWithoutNull => value
                .as_array()
                .map(|items| !items.is_empty() && items.iter().all(|i| !i.is_null())),
        }
    }
}

/// How a rule counts matches in an object.
#[derive(Debug, Clone, Copy)]
enum Predicate {
    /// A pod-spec field equals a boolean (0 or 1).
    PodBool { field: &'static str, want: bool },
    /// A pod-spec field is present and not null (0 or 1).
    PodPresent { field: &'static str },
    /// Containers (init, regular and ephemeral) whose `securityContext.<path>` passes
    /// `test`; with `pod_fallback`, an unset container value falls back to the pod-level
    /// `securityContext.<path>`.
    SecurityContext {
        path: &'static [&'static str],
        test: ValueTest,
        pod_fallback: bool,
    },
    /// Regular containers in which the key at `path` is present (even when null).
    ContainerKeyPresent { path: &'static [&'static str] },
    /// The Go rendering of the list of `volumes[].hostPath.path` contains the text (0 or 1).
    HostPathContains(&'static str),
    /// StatefulSet claim templates: passes when none has a `spec`, or when one asks for
    /// exactly `[ReadWriteOnce]` (0 or 1).
    ClaimAccessModeReadWriteOnce,
    /// StatefulSet claim templates with a storage request (1 when none has a `spec`).
    ClaimRequestsStorage,
    /// Containers that take a secret through `env[].valueFrom.secretKeyRef` or
    /// `envFrom[].secretRef`.
    EnvSecretRefs,
    /// The Go rendering of the list of `subjects[].name` contains the text (0 or 1).
    SubjectNameContains(&'static str),
}

/// One KubeSec rule.
#[derive(Debug)]
pub struct Rule {
    /// Upstream rule id, e.g. `RunAsNonRoot`.
    pub id: &'static str,
    /// Upstream display selector, verbatim (also the sort tie-breaker).
    pub selector: &'static str,
    /// Why the rule matters.
    pub reason: &'static str,
    /// Points added to the score once when the rule matches; negative for critical rules.
    pub points: i64,
    /// Upstream `advise` weight (shown by `print-rules`, not used for scoring).
    pub advise: i64,
    /// Kinds the rule applies to (exact, case-sensitive).
    pub kinds: &'static [&'static str],
    predicate: Predicate,
}

impl Rule {
    /// Whether the rule is evaluated for objects of this kind.
    pub fn applies_to(&self, kind: &str) -> bool {
        self.kinds.contains(&kind)
    }

    /// Whether this is a critical rule (negative points).
    pub fn is_critical(&self) -> bool {
        self.points < 0
    }

    /// How many containers or objects of `object` match the rule's predicate, reading the
    /// pod spec at the location for `kind` (see [`pod_spec`]).
    pub fn count(&self, object: &Value, kind: &str) -> usize {
        let spec = pod_spec(object, kind);
        match self.predicate {
            Predicate::PodBool { field, want } => {
                usize::from(spec.and_then(|s| s.get(field)).and_then(Value::as_bool) == Some(want))
            }
            Predicate::PodPresent { field } => usize::from(
                spec.and_then(|s| s.get(field))
                    .is_some_and(|v| !v.is_null()),
            ),
            Predicate::SecurityContext {
                path,
                test,
                pod_fallback,
            } => {
                let Some(spec) = spec else { return 0 };
                let pod_value = if pod_fallback {
                    test.check(lookup(spec.get("securityContext"), path)) == Some(true)
                } else {
                    false
                };
                all_containers(spec)
                    .filter(
                        |c| match test.check(lookup(c.get("securityContext"), path)) {
                            Some(passes) => passes,
                            None => pod_value,
                        },
                    )
                    .count()
            }
            Predicate::ContainerKeyPresent { path } => {
                let Some(spec) = spec else { return 0 };
                regular_containers(spec)
                    .filter(|c| key_present(c, path))
                    .count()
            }
            Predicate::HostPathContains(needle) => {
                let Some(volumes) = spec
                    .and_then(|s| s.get("volumes"))
                    .and_then(Value::as_array)
                else {
                    return 0;
                };
                let paths: Vec<Value> = volumes
                    .iter()
                    .filter_map(|v| v.get("hostPath").and_then(|h| h.get("path")))
                    .cloned()
                    .collect();
                usize::from(go_string(&Value::Array(paths)).contains(needle))
            }
            Predicate::ClaimAccessModeReadWriteOnce => {
                let templates = claim_templates(object);
                if !templates.iter().any(|t| t.get("spec").is_some()) {
                    return 1;
                }
                usize::from(templates.iter().any(|t| {
                    t.get("spec")
                        .and_then(|s| s.get("accessModes"))
                        .and_then(Value::as_array)
                        .is_some_and(|m| m.len() == 1 && m[0].as_str() == Some("ReadWriteOnce"))
                }))
            }
            Predicate::ClaimRequestsStorage => {
                let templates = claim_templates(object);
                if !templates.iter().any(|t| t.get("spec").is_some()) {
                    return 1;
                }
                templates
                    .iter()
                    .filter(|t| key_present(t, &["spec", "resources", "requests", "storage"]))
                    .count()
            }
            Predicate::EnvSecretRefs => {
                let Some(spec) = spec else { return 0 };
                all_containers(spec)
                    .filter(|c| {
                        let env = c.get("env").and_then(Value::as_array).is_some_and(|env| {
                            env.iter().any(|e| {
                                lookup(Some(e), &["valueFrom", "secretKeyRef"])
                                    .is_some_and(|v| !v.is_null())
                            })
                        });
                        let env_from =
                            c.get("envFrom")
                                .and_then(Value::as_array)
                                .is_some_and(|env| {
                                    env.iter()
                                        .any(|e| e.get("secretRef").is_some_and(|v| !v.is_null()))
                                });
                        env || env_from
                    })
                    .count()
            }
            Predicate::SubjectNameContains(needle) => {
                let Some(subjects) = object.get("subjects").and_then(Value::as_array) else {
                    return 0;
                };
                let names: Vec<Value> = subjects
                    .iter()
                    .filter_map(|s| s.get("name"))
                    .cloned()
                    .collect();
                usize::from(go_string(&Value::Array(names)).contains(needle))
            }
        }
    }
}

/// Where the pod spec of an object of `kind` lives: `spec` for a Pod,
/// `spec.jobTemplate.spec.template.spec` for a CronJob, `spec.template.spec` otherwise.
pub fn pod_spec<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    let path: &[&str] = match kind {
        "Pod" => &["spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => &["spec", "template", "spec"],
    };
    lookup(Some(object), path)
}

fn lookup<'a>(mut value: Option<&'a Value>, path: &[&str]) -> Option<&'a Value> {
    for key in path {
        value = value?.get(*key);
    }
    value
}

fn key_present(value: &Value, path: &[&str]) -> bool {
    match path.split_last() {
        Some((last, parents)) => lookup(Some(value), parents)
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key(*last)),
        None => true,
    }
}

fn list<'a>(spec: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    spec.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Init, regular and ephemeral containers: security-context rules look at all three.
fn all_containers(spec: &Value) -> impl Iterator<Item = &Value> {
    list(spec, "initContainers")
        .chain(list(spec, "containers"))
        .chain(list(spec, "ephemeralContainers"))
}

fn regular_containers(spec: &Value) -> impl Iterator<Item = &Value> {
    list(spec, "containers")
}

fn claim_templates(object: &Value) -> Vec<&Value> {
    lookup(Some(object), &["spec", "volumeClaimTemplates"])
        .and_then(Value::as_array)
        .map(|t| t.iter().collect())
        .unwrap_or_default()
}

const SECCOMP_SELECTOR: &str = ".spec .securityContext .seccompProfile .type | .spec .containers[] .securityContext .seccompProfile .type | .spec .initContainers[] .securityContext .seccompProfile .type | .spec .ephemeralContainers[] .securityContext .seccompProfile .type";
const APPARMOR_SELECTOR: &str = ".spec .securityContext .appArmorProfile .type | .spec .containers[] .securityContext .appArmorProfile .type | .spec .initContainers[] .securityContext .appArmorProfile .type | .spec .ephemeralContainers[] .securityContext .appArmorProfile .type";

const fn sc(path: &'static [&'static str], test: ValueTest, pod_fallback: bool) -> Predicate {
    Predicate::SecurityContext {
        path,
        test,
        pod_fallback,
    }
}

/// The 30 rules, in upstream table order.
pub static RULES: &[Rule] = &[
    Rule {
        id: "HostNetwork",
        selector: ".spec .hostNetwork == true",
        reason: "Sharing the host's network namespace lets the pod reach services bound to the node's loopback interface",
        points: -9,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::PodBool {
            field: "hostNetwork",
            want: true,
        },
    },
    Rule {
        id: "HostPID",
        selector: ".spec .hostPID == true",
        reason: "Sharing the host's PID namespace exposes every process on the node, including their environment",
        points: -9,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::PodBool {
            field: "hostPID",
            want: true,
        },
    },
    Rule {
        id: "HostIPC",
        selector: ".spec .hostIPC == true",
        reason: "Sharing the host's IPC namespace lets the pod read and write the node's shared memory and queues",
        points: -9,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::PodBool {
            field: "hostIPC",
            want: true,
        },
    },
    Rule {
        id: "ReadOnlyRootFilesystem",
        selector: "containers[] .securityContext .readOnlyRootFilesystem == true",
        reason: "A read-only root filesystem keeps an intruder from writing tools or changing binaries in the image",
        points: 1,
        advise: 3,
        kinds: WORKLOADS,
        predicate: sc(&["readOnlyRootFilesystem"], ValueTest::IsTrue, false),
    },
    Rule {
        id: "RunAsNonRoot",
        selector: ".spec, .spec.containers[] | .securityContext .runAsNonRoot == true",
        reason: "Requiring a non-root user keeps the container's processes at least privilege",
        points: 1,
        advise: 10,
        kinds: WORKLOADS,
        predicate: sc(&["runAsNonRoot"], ValueTest::IsTrue, true),
    },
    Rule {
        id: "RunAsUser",
        selector: ".spec, .spec.containers[] | .securityContext .runAsUser -gt 10000",
        reason: "A user id above 10000 does not collide with accounts that exist on the node",
        points: 1,
        advise: 4,
        kinds: WORKLOADS,
        predicate: sc(&["runAsUser"], ValueTest::NumberAbove(10000.0), true),
    },
    Rule {
        id: "RunAsGroup",
        selector: ".spec, .spec.containers[] | .securityContext .runAsGroup -gt 10000",
        reason: "A group id above 10000 does not collide with groups that exist on the node",
        points: 1,
        advise: 4,
        kinds: WORKLOADS,
        predicate: sc(&["runAsGroup"], ValueTest::NumberAbove(10000.0), true),
    },
    Rule {
        id: "Privileged",
        selector: "containers[] .securityContext .privileged == true",
        reason: "A privileged container can do nearly anything the node itself can",
        points: -30,
        advise: 0,
        kinds: WORKLOADS,
        predicate: sc(&["privileged"], ValueTest::IsTrue, false),
    },
    Rule {
        id: "CapSysAdmin",
        selector: "containers[] .securityContext .capabilities .add == SYS_ADMIN",
        reason: "CAP_SYS_ADMIN is close to full root on the node and should never be added",
        points: -30,
        advise: 0,
        kinds: WORKLOADS,
        predicate: sc(
            &["capabilities", "add"],
            ValueTest::RenderingContains("SYS_ADMIN"),
            false,
        ),
    },
    Rule {
        id: "CapDropAny",
        selector: "containers[] .securityContext .capabilities .drop",
        reason: "Dropping capabilities limits what a compromised container can ask of the kernel",
        points: 1,
        advise: 0,
        kinds: WORKLOADS,
        predicate: sc(
            &["capabilities", "drop"],
            ValueTest::NonEmptyArrayWithoutNull,
            false,
        ),
    },
    Rule {
        id: "CapDropAll",
        selector: "containers[] .securityContext .capabilities .drop | index(\"ALL\")",
        reason: "Dropping all capabilities and adding back only the needed ones gives the smallest kernel surface",
        points: 1,
        advise: 0,
        kinds: WORKLOADS,
        predicate: sc(
            &["capabilities", "drop"],
            ValueTest::RenderingContainsUpper("ALL"),
            false,
        ),
    },
    Rule {
        id: "DockerSock",
        selector: "volumes[] .hostPath .path == /var/run/docker.sock",
        reason: "The Docker socket controls every container on the node, so mounting it is a path to the host",
        points: -9,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::HostPathContains("/var/run/docker.sock"),
    },
    Rule {
        id: "ProcMount",
        selector: "volumes[] .hostPath .path == /proc",
        reason: "The node's /proc reveals other workloads and kernel settings and can help a container escape",
        points: -9,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::HostPathContains("/proc"),
    },
    Rule {
        id: "RequestsCPU",
        selector: "containers[] .resources .requests .cpu",
        reason: "A CPU request lets the scheduler place the pod where capacity is available",
        points: 1,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::ContainerKeyPresent {
            path: &["resources", "requests", "cpu"],
        },
    },
    Rule {
        id: "LimitsCPU",
        selector: "containers[] .resources .limits .cpu",
        reason: "A CPU limit keeps one workload from starving the node of CPU time",
        points: 1,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::ContainerKeyPresent {
            path: &["resources", "limits", "cpu"],
        },
    },
    Rule {
        id: "RequestsMemory",
        selector: "containers[] .resources .requests .memory",
        reason: "A memory request lets the scheduler place the pod where memory is available",
        points: 1,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::ContainerKeyPresent {
            path: &["resources", "requests", "memory"],
        },
    },
    Rule {
        id: "LimitsMemory",
        selector: "containers[] .resources .limits .memory",
        reason: "A memory limit keeps one workload from exhausting the node's memory",
        points: 1,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::ContainerKeyPresent {
            path: &["resources", "limits", "memory"],
        },
    },
    Rule {
        id: "ServiceAccountName",
        selector: ".spec .serviceAccountName",
        reason: "A dedicated service account lets the workload's API permissions be scoped to what it needs",
        points: 3,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::PodPresent {
            field: "serviceAccountName",
        },
    },
    Rule {
        id: "HostAliases",
        selector: ".spec .hostAliases",
        reason: "Host aliases rewrite /etc/hosts in the pod and bypass cluster DNS",
        points: -3,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::PodPresent {
            field: "hostAliases",
        },
    },
    Rule {
        id: "SeccompAny",
        selector: SECCOMP_SELECTOR,
        reason: "A seccomp profile narrows the system calls a container can make",
        points: 1,
        advise: 0,
        kinds: WORKLOADS,
        predicate: sc(
            &["seccompProfile", "type"],
            ValueTest::StringNot("Unconfined"),
            true,
        ),
    },
    Rule {
        id: "SeccompUnconfined",
        selector: SECCOMP_SELECTOR,
        reason: "An Unconfined seccomp profile leaves every system call available",
        points: -1,
        advise: 0,
        kinds: WORKLOADS,
        predicate: sc(
            &["seccompProfile", "type"],
            ValueTest::StringIs("Unconfined"),
            true,
        ),
    },
    Rule {
        id: "ApparmorAny",
        selector: APPARMOR_SELECTOR,
        reason: "An AppArmor profile adds mandatory access control around the container",
        points: 3,
        advise: 0,
        kinds: WORKLOADS,
        predicate: sc(
            &["appArmorProfile", "type"],
            ValueTest::StringNot("Unconfined"),
            true,
        ),
    },
    Rule {
        id: "ApparmorUnconfined",
        selector: APPARMOR_SELECTOR,
        reason: "An Unconfined AppArmor profile turns AppArmor off for the workload",
        points: -1,
        advise: 0,
        kinds: WORKLOADS,
        predicate: sc(
            &["appArmorProfile", "type"],
            ValueTest::StringIs("Unconfined"),
            true,
        ),
    },
    Rule {
        id: "VolumeClaimAccessModeReadWriteOnce",
        selector: ".spec .volumeClaimTemplates[] .spec .accessModes | index(\"ReadWriteOnce\")",
        reason: "ReadWriteOnce claims are mounted by a single node, which keeps each replica's data to itself",
        points: 1,
        advise: 0,
        kinds: STATEFULSET,
        predicate: Predicate::ClaimAccessModeReadWriteOnce,
    },
    Rule {
        id: "VolumeClaimRequestsStorage",
        selector: ".spec .volumeClaimTemplates[] .spec .resources .requests .storage",
        reason: "A storage request lets each claim bind to a volume of the right size",
        points: 1,
        advise: 0,
        kinds: STATEFULSET,
        predicate: Predicate::ClaimRequestsStorage,
    },
    Rule {
        id: "AllowPrivilegeEscalation",
        selector: "containers[] .securityContext .allowPrivilegeEscalation == true",
        reason: "Allowing privilege escalation lets a process gain more privileges than its parent, e.g. through setuid binaries",
        points: -7,
        advise: 0,
        kinds: WORKLOADS,
        predicate: sc(&["allowPrivilegeEscalation"], ValueTest::IsTrue, false),
    },
    Rule {
        id: "AutomountServiceAccountToken",
        selector: ".spec .automountServiceAccountToken == false",
        reason: "Not mounting the service account token keeps API credentials out of pods that do not need them",
        points: 1,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::PodBool {
            field: "automountServiceAccountToken",
            want: false,
        },
    },
    Rule {
        id: "HostUsers",
        selector: ".spec .hostUsers == false",
        reason: "A user namespace of its own (hostUsers: false) maps root in the pod to an unprivileged user on the node",
        points: 1,
        advise: 0,
        kinds: WORKLOADS,
        predicate: Predicate::PodBool {
            field: "hostUsers",
            want: false,
        },
    },
    Rule {
        id: "SecretsAsEnvironmentVariables",
        selector: ".spec .containers[] .env[] .valueFrom .secretKeyRef | .spec .initContainers[] .env[] .valueFrom .secretKeyRef | .spec .ephemeralContainers[] .env[] .valueFrom .secretKeyRef | .spec .containers[] .envFrom[] .secretRef | .spec .initContainers[] .envFrom[] .secretRef | .spec .ephemeralContainers[] .envFrom[] .secretRef",
        reason: "Secrets in environment variables leak through logs, crash reports and process listings; mount them as files",
        points: -5,
        advise: 0,
        kinds: ENV_SECRET_KINDS,
        predicate: Predicate::EnvSecretRefs,
    },
    Rule {
        id: "BindingsToSystemAnonymous",
        selector: ".subjects[] .name == \"system:anonymous\"",
        reason: "Binding a role to system:anonymous grants its permissions to every unauthenticated request",
        points: -30,
        advise: 0,
        kinds: BINDINGS,
        predicate: Predicate::SubjectNameContains("system:anonymous"),
    },
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn count(id: &str, object: Value) -> usize {
        let kind = object["kind"].as_str().unwrap_or("").to_string();
        rule(id).unwrap().count(&object, &kind)
    }

    #[test]
    fn table_has_thirty_unique_rules() {
        assert_eq!(RULES.len(), 30);
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 30);
    }

    #[test]
    fn one_compliant_container_is_enough() {
        let pod = json!({"kind": "Pod", "spec": {"containers": [
            {"securityContext": {"readOnlyRootFilesystem": true}}, {}, {"securityContext": {}}]}});
        assert_eq!(count("ReadOnlyRootFilesystem", pod), 1);
    }

    #[test]
    fn pod_level_fallback_only_for_unset_container_values() {
        let pod = json!({"kind": "Pod", "spec": {"securityContext": {"runAsUser": 20000},
            "containers": [{}, {"securityContext": {"runAsUser": 5}}, {"securityContext": {"runAsUser": "20000"}}]}});
        // The first and the third (a string is "unset") inherit; the second fails on its own value.
        assert_eq!(count("RunAsUser", pod), 2);
    }

    #[test]
    fn substring_quirks() {
        let pod = json!({"kind": "Pod", "spec": {"containers": [
            {"securityContext": {"capabilities": {"add": ["CAP_SYS_ADMIN"], "drop": ["all"]}}}],
            "volumes": [{"hostPath": {"path": "/proc/sys"}}]}});
        assert_eq!(count("CapSysAdmin", pod.clone()), 1);
        assert_eq!(count("CapDropAll", pod.clone()), 1);
        assert_eq!(count("ProcMount", pod.clone()), 1);
        assert_eq!(count("DockerSock", pod), 0);
    }

    #[test]
    fn claim_templates_pass_when_absent() {
        let sts = json!({"kind": "StatefulSet", "spec": {"template": {"spec": {}}}});
        assert_eq!(count("VolumeClaimAccessModeReadWriteOnce", sts.clone()), 1);
        assert_eq!(count("VolumeClaimRequestsStorage", sts), 1);
        let sts = json!({"kind": "StatefulSet", "spec": {"volumeClaimTemplates": [
            {"spec": {"accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}}]}});
        assert_eq!(count("VolumeClaimAccessModeReadWriteOnce", sts.clone()), 0);
        assert_eq!(count("VolumeClaimRequestsStorage", sts), 0);
    }

    #[test]
    fn cronjob_pod_spec_location() {
        let cj = json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"envFrom": [{"secretRef": {"name": "s"}}]}]}}}}}});
        assert_eq!(count("SecretsAsEnvironmentVariables", cj), 1);
    }

    #[test]
    fn non_boolean_host_namespace_does_not_match() {
        let pod = json!({"kind": "Pod", "spec": {"hostNetwork": "true"}});
        assert_eq!(count("HostNetwork", pod), 0);
    }
}
