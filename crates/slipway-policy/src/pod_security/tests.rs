use serde_json::{Value, json};

use super::*;

fn y(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap()
}

/// Evaluates `rule` (YAML of the podSecurity block) on a pod (YAML) and returns the failing
/// control names, sorted and without repeats.
fn check(rule: &str, pod: &str) -> Vec<String> {
    let rule = PodSecurityRule::parse(&y(rule)).unwrap();
    let pod = y(pod);
    evaluate(
        &rule,
        pod.get("metadata").unwrap_or(&Value::Null),
        pod.get("spec").unwrap_or(&Value::Null),
    )
    .into_iter()
    .map(|v| v.control)
    .collect::<std::collections::BTreeSet<_>>()
    .into_iter()
    .collect()
}

const RESTRICTED_OK: &str = r#"
metadata: {name: p}
spec:
  containers:
  - name: c
    image: nginx:1.1.9
    securityContext:
      allowPrivilegeEscalation: false
      runAsNonRoot: true
      seccompProfile: {type: RuntimeDefault}
      capabilities: {drop: [ALL]}
"#;

#[test]
fn restricted_good_pod_passes() {
    assert!(check("{level: restricted, version: latest}", RESTRICTED_OK).is_empty());
}

#[test]
fn restricted_requires_drop_all() {
    let pod = RESTRICTED_OK.replace("      capabilities: {drop: [ALL]}\n", "");
    assert_eq!(
        check("{level: restricted, version: latest}", &pod),
        ["Capabilities"]
    );
}

#[test]
fn restricted_capabilities_not_checked_before_1_22() {
    let pod = RESTRICTED_OK.replace("      capabilities: {drop: [ALL]}\n", "");
    assert!(check("{level: restricted, version: v1.21}", &pod).is_empty());
}

#[test]
fn restricted_add_capability_fails_unless_excluded_by_image() {
    let pod = RESTRICTED_OK.replace("{drop: [ALL]}", "{drop: [ALL], add: [SYS_ADMIN]}");
    assert_eq!(check("{level: restricted}", &pod), ["Capabilities"]);
    let rule =
        "{level: restricted, exclude: [{controlName: Capabilities, images: ['nginx*', 'redis*']}]}";
    assert!(check(rule, &pod).is_empty());
    let other = pod.replace("nginx:1.1.9", "busybox:1.28");
    assert_eq!(check(rule, &other), ["Capabilities"]);
}

#[test]
fn restricted_field_and_values_exempt_specific_values() {
    let pod = RESTRICTED_OK.replace("{drop: [ALL]}", "{drop: [ALL], add: [SYS_ADMIN]}");
    let rule = "{level: restricted, exclude: [{controlName: Capabilities, images: ['*'], restrictedField: 'spec.containers[*].securityContext.capabilities.add', values: [SYS_ADMIN]}]}";
    assert!(check(rule, &pod).is_empty());
    let rule = "{level: restricted, exclude: [{controlName: Capabilities, images: ['*'], restrictedField: 'spec.containers[*].securityContext.capabilities.add', values: [NET_RAW]}]}";
    assert_eq!(check(rule, &pod), ["Capabilities"]);
}

#[test]
fn baseline_host_namespaces() {
    assert_eq!(
        check(
            "{level: baseline, version: latest}",
            "spec: {hostIPC: true, containers: [{name: c, image: x}]}"
        ),
        ["Host Namespaces"]
    );
    assert!(
        check(
            "{level: baseline}",
            "spec: {containers: [{name: c, image: x}]}"
        )
        .is_empty()
    );
    assert!(
        check(
            "{level: baseline, exclude: [{controlName: Host Namespaces}]}",
            "spec: {hostIPC: true, containers: [{name: c, image: x}]}"
        )
        .is_empty()
    );
}

#[test]
fn baseline_message_matches_pod_security_admission() {
    let rule = PodSecurityRule::parse(&y("{level: baseline}")).unwrap();
    let pod = y("spec: {containers: [{name: x, image: i, securityContext: {privileged: true}}]}");
    let v = evaluate(&rule, &Value::Null, pod.get("spec").unwrap());
    assert_eq!(
        v,
        [PssViolation {
            control: "Privileged Containers".into(),
            message: "privileged (container \"x\" must not set securityContext.privileged=true)"
                .into()
        }]
    );
}

#[test]
fn baseline_checks_each_control() {
    let base = "{level: baseline}";
    let c = |sc: &str| format!("spec: {{containers: [{{name: c, image: i, {sc}}}]}}");
    assert_eq!(
        check(
            base,
            &c("securityContext: {capabilities: {add: [NET_ADMIN]}}")
        ),
        ["Capabilities"]
    );
    assert!(check(base, &c("securityContext: {capabilities: {add: [CHOWN]}}")).is_empty());
    assert_eq!(
        check(base, &c("ports: [{containerPort: 80, hostPort: 80}]")),
        ["Host Ports"]
    );
    assert!(check(base, &c("ports: [{containerPort: 80, hostPort: 0}]")).is_empty());
    assert_eq!(
        check(base, &c("securityContext: {procMount: Unmasked}")),
        ["/proc Mount Type"]
    );
    assert_eq!(
        check(
            base,
            &c("securityContext: {seccompProfile: {type: Unconfined}}")
        ),
        ["Seccomp"]
    );
    assert_eq!(
        check(base, &c("securityContext: {seLinuxOptions: {type: spc_t}}")),
        ["SELinux"]
    );
    assert!(
        check(
            base,
            &c("securityContext: {seLinuxOptions: {type: container_t}}")
        )
        .is_empty()
    );
    assert_eq!(
        check(
            base,
            &c("securityContext: {windowsOptions: {hostProcess: true}}")
        ),
        ["HostProcess"]
    );
    assert_eq!(
        check(
            base,
            "spec: {volumes: [{name: v, hostPath: {path: /}}], containers: [{name: c, image: i}]}"
        ),
        ["HostPath Volumes"]
    );
    assert_eq!(
        check(
            base,
            "spec: {securityContext: {sysctls: [{name: kernel.msgmax, value: '1'}]}, containers: []}"
        ),
        ["Sysctls"]
    );
    assert!(check(base, "spec: {securityContext: {sysctls: [{name: net.ipv4.tcp_keepalive_time, value: '1'}]}, containers: []}").is_empty());
    assert_eq!(
        check(
            "{level: baseline, version: v1.28}",
            "spec: {securityContext: {sysctls: [{name: net.ipv4.tcp_keepalive_time, value: '1'}]}, containers: []}"
        ),
        ["Sysctls"]
    );
    assert_eq!(
        check(
            base,
            "metadata: {annotations: {container.apparmor.security.beta.kubernetes.io/c: unconfined}}\nspec: {containers: [{name: c, image: i}]}"
        ),
        ["AppArmor"]
    );
    assert!(check(base, "metadata: {annotations: {container.apparmor.security.beta.kubernetes.io/c: runtime/default}}\nspec: {containers: [{name: c, image: i}]}").is_empty());
}

#[test]
fn privileged_level_checks_nothing() {
    assert!(check("{level: privileged}", "spec: {hostPID: true, containers: [{name: c, image: i, securityContext: {privileged: true}}]}").is_empty());
}

#[test]
fn restricted_includes_baseline() {
    let pod = RESTRICTED_OK.replace("spec:\n", "spec:\n  hostNetwork: true\n");
    assert_eq!(check("{level: restricted}", &pod), ["Host Namespaces"]);
}

#[test]
fn restricted_non_root_at_pod_level_covers_containers() {
    let pod = RESTRICTED_OK
        .replace("      runAsNonRoot: true\n", "")
        .replace(
            "spec:\n",
            "spec:\n  securityContext: {runAsNonRoot: true}\n",
        );
    assert!(check("{level: restricted}", &pod).is_empty());
    let pod = RESTRICTED_OK.replace("      runAsNonRoot: true\n", "");
    assert_eq!(check("{level: restricted}", &pod), ["Running as Non-root"]);
}

#[test]
fn restricted_run_as_user_zero_since_1_23() {
    let pod = RESTRICTED_OK.replace(
        "      runAsNonRoot: true\n",
        "      runAsNonRoot: true\n      runAsUser: 0\n",
    );
    assert_eq!(
        check("{level: restricted}", &pod),
        ["Running as Non-root user"]
    );
    assert!(check("{level: restricted, version: v1.22}", &pod).is_empty());
}

#[test]
fn restricted_volume_types_and_escalation() {
    let pod = RESTRICTED_OK.replace(
        "spec:\n",
        "spec:\n  volumes: [{name: v, nfs: {server: s, path: /}}, {name: w, emptyDir: {}}]\n",
    );
    assert_eq!(check("{level: restricted}", &pod), ["Volume Types"]);
    let pod = RESTRICTED_OK.replace(
        "allowPrivilegeEscalation: false",
        "allowPrivilegeEscalation: true",
    );
    assert_eq!(check("{level: restricted}", &pod), ["Privilege Escalation"]);
}

#[test]
fn restricted_seccomp_pod_level() {
    let pod = RESTRICTED_OK.replace("      seccompProfile: {type: RuntimeDefault}\n", "");
    assert_eq!(check("{level: restricted}", &pod), ["Seccomp"]);
    let pod = pod.replace(
        "spec:\n",
        "spec:\n  securityContext: {seccompProfile: {type: Localhost}}\n",
    );
    assert!(check("{level: restricted}", &pod).is_empty());
}

#[test]
fn windows_pods_are_exempt_from_linux_only_restricted_checks() {
    let pod = "spec: {os: {name: windows}, containers: [{name: c, image: i, securityContext: {runAsNonRoot: true}}]}";
    assert!(check("{level: restricted}", pod).is_empty());
    assert_eq!(
        check("{level: restricted, version: v1.24}", pod),
        ["Capabilities", "Privilege Escalation", "Seccomp"]
    );
}

#[test]
fn init_and_ephemeral_containers_are_checked() {
    assert_eq!(
        check(
            "{level: baseline}",
            "spec: {initContainers: [{name: i, image: x, securityContext: {privileged: true}}], containers: []}"
        ),
        ["Privileged Containers"]
    );
    assert_eq!(
        check(
            "{level: baseline}",
            "spec: {ephemeralContainers: [{name: e, image: x, securityContext: {privileged: true}}]}"
        ),
        ["Privileged Containers"]
    );
}

#[test]
fn parse_errors_name_the_field() {
    let e = PodSecurityRule::parse(&y("{level: strict}")).unwrap_err();
    assert_eq!(e.path, "level");
    let e = PodSecurityRule::parse(&y("{level: baseline, version: '1.2'}")).unwrap_err();
    assert_eq!(e.path, "version");
    let e = PodSecurityRule::parse(&y("{level: baseline, exclude: [{controlName: Nope}]}"))
        .unwrap_err();
    assert_eq!(e.path, "exclude[0].controlName");
    let e = PodSecurityRule::parse(&y(
        "{level: baseline, exclude: [{controlName: Capabilities, images: [{}]}]}",
    ))
    .unwrap_err();
    assert_eq!(e.path, "exclude[0].images[0]");
    assert!(PodSecurityRule::parse(&json!("x")).is_err());
    let ok = PodSecurityRule::parse(&y("{level: baseline, version: v1.24}")).unwrap();
    assert_eq!(ok.version, Version::V1(24));
}

#[test]
fn random_specs_do_not_panic() {
    let shapes = [
        json!(null),
        json!(1),
        json!("x"),
        json!([]),
        json!({}),
        json!([{"name": 1, "securityContext": 3}]),
        json!({"containers": {"a": 1}}),
    ];
    let rule = PodSecurityRule::parse(&y("{level: restricted}")).unwrap();
    for a in &shapes {
        for b in &shapes {
            let spec = json!({"containers": a, "volumes": b, "securityContext": a, "hostIPC": b});
            let _ = evaluate(&rule, a, &spec);
            let _ = evaluate(&rule, b, a);
        }
    }
}

/// Runs the conformance suites that use `podSecurity` (read in place, never copied).
#[test]
#[allow(clippy::print_stderr)] // the documented "skipped: ..." line when the data is absent
fn conformance_pod_security_suites() {
    let root = std::env::var("SLIPWAY_CONFORMANCE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    let base = root.join("kyverno/pod-security/subrule");
    if !base.is_dir() {
        assert!(
            std::env::var("CI").is_err(),
            "conformance data missing at {}",
            base.display()
        );
        eprintln!("skipped: no conformance data at {}", base.display());
        return;
    }
    let docs = |path: &std::path::Path| -> Vec<Value> {
        let text = fs_err::read_to_string(path).unwrap();
        text.split("\n---")
            .filter(|d| !d.trim().is_empty())
            .map(y)
            .collect()
    };
    let mut checked = 0;
    for entry in walkdir::WalkDir::new(&base) {
        let entry = entry.unwrap();
        if entry.file_name() != "kyverno-test.yaml" {
            continue;
        }
        let dir = entry.path().parent().unwrap();
        let test = &docs(entry.path())[0];
        let mut rules = Vec::new();
        for p in test["policies"].as_array().unwrap() {
            for policy in docs(&dir.join(p.as_str().unwrap())) {
                for rule in policy["spec"]["rules"].as_array().unwrap() {
                    if let Some(ps) = rule.get("validate").and_then(|v| v.get("podSecurity")) {
                        rules.push((
                            rule["name"].as_str().unwrap().to_string(),
                            PodSecurityRule::parse(ps).unwrap(),
                        ));
                    }
                }
            }
        }
        let mut resources = Vec::new();
        for r in test["resources"].as_array().unwrap() {
            resources.extend(docs(&dir.join(r.as_str().unwrap())));
        }
        for result in test["results"].as_array().unwrap() {
            let (_, rule) = rules
                .iter()
                .find(|(n, _)| n == result["rule"].as_str().unwrap())
                .unwrap();
            for name in result["resources"].as_array().unwrap() {
                let pod = resources
                    .iter()
                    .find(|r| r["metadata"]["name"] == *name)
                    .unwrap();
                let violations = evaluate(rule, &pod["metadata"], &pod["spec"]);
                let got = if violations.is_empty() {
                    "pass"
                } else {
                    "fail"
                };
                assert_eq!(
                    got,
                    result["result"].as_str().unwrap(),
                    "{} {name}: {violations:?}",
                    dir.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "only {checked} results checked");
}
