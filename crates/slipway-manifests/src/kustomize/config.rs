//! Transformer configuration: which fields each builtin transformer touches
//! (upstream's `builtinpluginconsts` defaults), extended by `configurations`
//! files and CRDs.

use serde_json::Value;

use super::resource::Gvk;

/// A field path selected by gvk (upstream's `FieldSpec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldSpec {
    pub gvk: Gvk,
    pub path: String,
    pub create: bool,
}

impl FieldSpec {
    pub fn new(group: &str, version: &str, kind: &str, path: &str, create: bool) -> Self {
        Self {
            gvk: Gvk {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
            },
            path: path.into(),
            create,
        }
    }

    /// Parses `{group, version, kind, path, create}`.
    pub fn from_value(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let path = v.get("path").and_then(Value::as_str)?;
        Some(Self {
            gvk: Gvk {
                group: s("group"),
                version: s("version"),
                kind: s("kind"),
            },
            path: path.to_string(),
            create: v.get("create").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// Field specs of one name-reference target kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameBackRef {
    pub gvk: Gvk,
    pub field_specs: Vec<FieldSpec>,
}

/// The transformer configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct TransformerConfig {
    pub name_prefix: Vec<FieldSpec>,
    pub name_suffix: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub common_labels: Vec<FieldSpec>,
    pub template_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub name_reference: Vec<NameBackRef>,
    pub var_reference: Vec<FieldSpec>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
}

fn merge_specs(into: &mut Vec<FieldSpec>, from: &[FieldSpec]) {
    for fs in from {
        if !into.contains(fs) {
            into.push(fs.clone());
        }
    }
}

fn pod_specs(suffixes: &[&str]) -> Vec<FieldSpec> {
    let mut out = Vec::new();
    for (group, version, kind, prefix) in POD_SPEC_PATHS_FULL {
        for s in suffixes {
            out.push(FieldSpec::new(
                group,
                version,
                kind,
                &format!("{prefix}/{s}"),
                false,
            ));
        }
    }
    out
}

/// Kinds whose pod spec sits at the given path.
const POD_SPEC_PATHS_FULL: &[(&str, &str, &str, &str)] = &[
    ("", "v1", "Pod", "spec"),
    ("", "", "PodTemplate", "template/spec"),
    ("", "", "ReplicationController", "spec/template/spec"),
    ("", "", "Deployment", "spec/template/spec"),
    ("", "", "ReplicaSet", "spec/template/spec"),
    ("", "", "DaemonSet", "spec/template/spec"),
    ("", "", "StatefulSet", "spec/template/spec"),
    ("", "", "Job", "spec/template/spec"),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec"),
];

fn simple(kind: &str, path: &str) -> FieldSpec {
    FieldSpec::new("", "", kind, path, false)
}

impl TransformerConfig {
    /// Upstream's default configuration.
    pub fn default_config() -> Self {
        let mut c = Self {
            name_prefix: vec![FieldSpec::new("", "", "", "metadata/name", false)],
            name_suffix: vec![FieldSpec::new("", "", "", "metadata/name", false)],
            namespace: vec![FieldSpec::new("", "", "", "metadata/namespace", true)],
            common_annotations: vec![FieldSpec::new("", "", "", "metadata/annotations", true)],
            ..Self::default()
        };
        let l = |g: &str, v: &str, k: &str, p: &str, cr: bool| FieldSpec::new(g, v, k, p, cr);
        let mut labels = vec![
            l("", "", "", "metadata/labels", true),
            l("", "v1", "Service", "spec/selector", true),
            l("", "v1", "ReplicationController", "spec/selector", true),
            l(
                "",
                "v1",
                "ReplicationController",
                "spec/template/metadata/labels",
                true,
            ),
            l("", "", "Deployment", "spec/selector/matchLabels", true),
            l("", "", "Deployment", "spec/template/metadata/labels", true),
        ];
        let affinity = [
            "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        ];
        for p in affinity {
            labels.push(l("apps", "", "Deployment", p, false));
        }
        labels.extend([
            l("", "", "ReplicaSet", "spec/selector/matchLabels", true),
            l("", "", "ReplicaSet", "spec/template/metadata/labels", true),
            l("", "", "DaemonSet", "spec/selector/matchLabels", true),
            l("", "", "DaemonSet", "spec/template/metadata/labels", true),
            l("apps", "", "StatefulSet", "spec/selector/matchLabels", true),
            l(
                "apps",
                "",
                "StatefulSet",
                "spec/template/metadata/labels",
                true,
            ),
        ]);
        for p in affinity {
            labels.push(l("apps", "", "StatefulSet", p, false));
        }
        labels.push(l(
            "apps",
            "",
            "StatefulSet",
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
        ));
        labels.extend([
            l("batch", "", "Job", "spec/selector/matchLabels", false),
            l("batch", "", "Job", "spec/template/metadata/labels", true),
            l(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/selector/matchLabels",
                false,
            ),
            l(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/metadata/labels",
                true,
            ),
            l(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/metadata/labels",
                true,
            ),
            l(
                "policy",
                "",
                "PodDisruptionBudget",
                "spec/selector/matchLabels",
                false,
            ),
            l(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/podSelector/matchLabels",
                false,
            ),
            l(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/ingress/from/podSelector/matchLabels",
                false,
            ),
            l(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/egress/to/podSelector/matchLabels",
                false,
            ),
        ]);
        c.common_labels = labels;
        c.template_labels = vec![
            l("", "", "Deployment", "spec/template/metadata/labels", true),
            l("", "", "ReplicaSet", "spec/template/metadata/labels", true),
            l("", "", "DaemonSet", "spec/template/metadata/labels", true),
            l(
                "apps",
                "",
                "StatefulSet",
                "spec/template/metadata/labels",
                true,
            ),
            l("batch", "", "Job", "spec/template/metadata/labels", true),
            l(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/metadata/labels",
                true,
            ),
            l(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/metadata/labels",
                true,
            ),
            l(
                "",
                "v1",
                "ReplicationController",
                "spec/template/metadata/labels",
                true,
            ),
        ];
        c.common_annotations.extend(
            c.template_labels
                .iter()
                .map(|fs| FieldSpec {
                    path: fs.path.replace("/labels", "/annotations"),
                    ..fs.clone()
                })
                .collect::<Vec<_>>(),
        );
        c.images = vec![
            l("", "", "", "spec/containers[]/image", true),
            l("", "", "", "spec/initContainers[]/image", true),
            l("", "", "", "spec/template/spec/containers[]/image", true),
            l(
                "",
                "",
                "",
                "spec/template/spec/initContainers[]/image",
                true,
            ),
        ];
        c.replicas = vec![
            l("", "", "Deployment", "spec/replicas", true),
            l("", "", "ReplicationController", "spec/replicas", true),
            l("", "", "ReplicaSet", "spec/replicas", true),
            l("", "", "StatefulSet", "spec/replicas", true),
        ];
        c.var_reference = default_var_reference();
        c.name_reference = default_name_reference();
        c
    }

    /// Adds another configuration's field specs (union, keeping first occurrences).
    pub fn merge(&mut self, other: &TransformerConfig) {
        merge_specs(&mut self.name_prefix, &other.name_prefix);
        merge_specs(&mut self.name_suffix, &other.name_suffix);
        merge_specs(&mut self.namespace, &other.namespace);
        merge_specs(&mut self.common_labels, &other.common_labels);
        merge_specs(&mut self.template_labels, &other.template_labels);
        merge_specs(&mut self.common_annotations, &other.common_annotations);
        merge_specs(&mut self.var_reference, &other.var_reference);
        merge_specs(&mut self.images, &other.images);
        merge_specs(&mut self.replicas, &other.replicas);
        for nb in &other.name_reference {
            match self.name_reference.iter_mut().find(|x| x.gvk == nb.gvk) {
                Some(existing) => merge_specs(&mut existing.field_specs, &nb.field_specs),
                None => self.name_reference.push(nb.clone()),
            }
        }
    }

    /// Parses a `configurations` file.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let mut c = Self::default();
        let Some(map) = v.as_object() else {
            return Ok(c);
        };
        for (key, val) in map {
            let specs = || -> Result<Vec<FieldSpec>, String> {
                val.as_array()
                    .map(|a| a.iter().filter_map(FieldSpec::from_value).collect())
                    .ok_or_else(|| format!("`{key}` must be a list of field specs"))
            };
            match key.as_str() {
                "namePrefix" => c.name_prefix = specs()?,
                "nameSuffix" => c.name_suffix = specs()?,
                "namespace" => c.namespace = specs()?,
                "commonLabels" => c.common_labels = specs()?,
                "templateLabels" => c.template_labels = specs()?,
                "commonAnnotations" => c.common_annotations = specs()?,
                "varReference" => c.var_reference = specs()?,
                "images" => c.images = specs()?,
                "replicas" => c.replicas = specs()?,
                "nameReference" => {
                    for entry in val.as_array().into_iter().flatten() {
                        let s = |k: &str| {
                            entry
                                .get(k)
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string()
                        };
                        c.name_reference.push(NameBackRef {
                            gvk: Gvk {
                                group: s("group"),
                                version: s("version"),
                                kind: s("kind"),
                            },
                            field_specs: entry
                                .get("fieldSpecs")
                                .and_then(Value::as_array)
                                .map(|a| a.iter().filter_map(FieldSpec::from_value).collect())
                                .unwrap_or_default(),
                        });
                    }
                }
                other => return Err(format!("unknown transformer configuration field `{other}`")),
            }
        }
        Ok(c)
    }
}

/// Upstream's default `varReference` field specs.
fn default_var_reference() -> Vec<FieldSpec> {
    let container_fields = [
        "containers/args",
        "containers/command",
        "containers/env/value",
        "containers/volumeMounts/mountPath",
        "initContainers/args",
        "initContainers/command",
        "initContainers/env/value",
        "initContainers/volumeMounts/mountPath",
    ];
    let mut out = Vec::new();
    for (kind, prefix) in [
        ("CronJob", "spec/jobTemplate/spec/template/spec"),
        ("DaemonSet", "spec/template/spec"),
        ("Deployment", "spec/template/spec"),
        ("Job", "spec/template/spec"),
        ("Pod", "spec"),
        ("ReplicaSet", "spec/template/spec"),
        ("StatefulSet", "spec/template/spec"),
    ] {
        for f in container_fields {
            out.push(simple(kind, &format!("{prefix}/{f}")));
        }
        if kind != "StatefulSet" {
            out.push(simple(kind, &format!("{prefix}/volumes/nfs/server")));
        }
    }
    out.extend([
        simple("Ingress", "spec/rules/host"),
        simple("Ingress", "spec/tls/hosts"),
        simple("Ingress", "spec/tls/secretName"),
        simple("Service", "spec/ports/port"),
        simple("Service", "spec/ports/targetPort"),
        simple("StatefulSet", "spec/volumeClaimTemplates/spec/nfs/server"),
        simple("PersistentVolume", "spec/nfs/server"),
        simple("", "metadata/labels"),
        simple("", "metadata/annotations"),
    ]);
    out
}

fn backref(group: &str, version: &str, kind: &str, specs: Vec<FieldSpec>) -> NameBackRef {
    NameBackRef {
        gvk: Gvk {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        },
        field_specs: specs,
    }
}

fn default_name_reference() -> Vec<NameBackRef> {
    let hpa = |_: &str| {
        vec![simple(
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
        )]
    };
    let mut out = vec![
        backref("", "", "Deployment", hpa("")),
        backref("", "", "ReplicationController", hpa("")),
        backref("", "", "ReplicaSet", hpa("")),
        backref("", "", "StatefulSet", hpa("")),
    ];
    let mut cm = pod_specs(&[
        "volumes/configMap/name",
        "containers/env/valueFrom/configMapKeyRef/name",
        "initContainers/env/valueFrom/configMapKeyRef/name",
        "containers/envFrom/configMapRef/name",
        "initContainers/envFrom/configMapRef/name",
        "volumes/projected/sources/configMap/name",
    ]);
    cm.extend([
        simple("Node", "spec/configSource/configMap"),
        simple("Role", "rules/resourceNames"),
        simple("ClusterRole", "rules/resourceNames"),
        simple("ScaledObject", "spec/triggers/authenticationRef/name"),
    ]);
    out.push(backref("", "v1", "ConfigMap", cm));
    let mut secret = pod_specs(&[
        "volumes/secret/secretName",
        "containers/env/valueFrom/secretKeyRef/name",
        "initContainers/env/valueFrom/secretKeyRef/name",
        "containers/envFrom/secretRef/name",
        "initContainers/envFrom/secretRef/name",
        "imagePullSecrets/name",
        "volumes/projected/sources/secret/name",
    ]);
    secret.extend([
        simple("Ingress", "spec/tls/secretName"),
        simple(
            "Ingress",
            "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
        ),
        simple(
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
        ),
        simple(
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
        ),
        simple("ServiceAccount", "imagePullSecrets/name"),
        simple("StorageClass", "parameters/secretName"),
        simple("StorageClass", "parameters/adminSecretName"),
        simple("StorageClass", "parameters/userSecretName"),
        simple("StorageClass", "parameters/secretRef"),
        simple("Role", "rules/resourceNames"),
        simple("ClusterRole", "rules/resourceNames"),
        simple(
            "Service",
            "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
        ),
        simple(
            "BackendConfig",
            "spec/iap/oauthclientCredentials/secretName",
        ),
    ]);
    out.push(backref("", "v1", "Secret", secret));
    out.push(backref(
        "",
        "v1",
        "Service",
        vec![
            FieldSpec::new("apps", "", "StatefulSet", "spec/serviceName", false),
            FieldSpec::new(
                "apps",
                "",
                "StatefulSet",
                "spec/template/spec/subdomain",
                false,
            ),
            FieldSpec::new(
                "apps",
                "",
                "Deployment",
                "spec/template/spec/subdomain",
                false,
            ),
            simple("Ingress", "spec/rules/http/paths/backend/serviceName"),
            simple("Ingress", "spec/backend/serviceName"),
            simple("Ingress", "spec/rules/http/paths/backend/service/name"),
            simple("Ingress", "spec/defaultBackend/service/name"),
            FieldSpec::new(
                "apiregistration.k8s.io",
                "",
                "APIService",
                "spec/service/name",
                false,
            ),
            simple(
                "ValidatingWebhookConfiguration",
                "webhooks/clientConfig/service",
            ),
            simple(
                "MutatingWebhookConfiguration",
                "webhooks/clientConfig/service",
            ),
            simple(
                "CustomResourceDefinition",
                "spec/conversion/webhook/clientConfig/service",
            ),
        ],
    ));
    out.push(backref(
        "rbac.authorization.k8s.io",
        "",
        "Role",
        vec![FieldSpec::new(
            "rbac.authorization.k8s.io",
            "",
            "RoleBinding",
            "roleRef/name",
            false,
        )],
    ));
    out.push(backref(
        "rbac.authorization.k8s.io",
        "",
        "ClusterRole",
        vec![
            FieldSpec::new(
                "rbac.authorization.k8s.io",
                "",
                "RoleBinding",
                "roleRef/name",
                false,
            ),
            FieldSpec::new(
                "rbac.authorization.k8s.io",
                "",
                "ClusterRoleBinding",
                "roleRef/name",
                false,
            ),
        ],
    ));
    let mut sa = vec![
        FieldSpec::new(
            "rbac.authorization.k8s.io",
            "",
            "RoleBinding",
            "subjects",
            false,
        ),
        FieldSpec::new(
            "rbac.authorization.k8s.io",
            "",
            "ClusterRoleBinding",
            "subjects",
            false,
        ),
    ];
    sa.extend(pod_specs(&["serviceAccountName"]));
    out.push(backref("", "v1", "ServiceAccount", sa));
    let pvc = pod_specs(&["volumes/persistentVolumeClaim/claimName"]);
    out.push(backref("", "v1", "PersistentVolumeClaim", pvc));
    out.push(backref(
        "",
        "v1",
        "PersistentVolume",
        vec![
            simple("PersistentVolumeClaim", "spec/volumeName"),
            simple("ClusterRole", "rules/resourceNames"),
        ],
    ));
    out.push(backref(
        "storage.k8s.io",
        "",
        "StorageClass",
        vec![
            simple("PersistentVolume", "spec/storageClassName"),
            simple("PersistentVolumeClaim", "spec/storageClassName"),
            simple(
                "StatefulSet",
                "spec/volumeClaimTemplates/spec/storageClassName",
            ),
        ],
    ));
    out.push(backref(
        "scheduling.k8s.io",
        "",
        "PriorityClass",
        pod_specs(&["priorityClassName"]),
    ));
    out.push(backref(
        "networking.k8s.io",
        "",
        "IngressClass",
        vec![simple("Ingress", "spec/ingressClassName")],
    ));
    out
}
