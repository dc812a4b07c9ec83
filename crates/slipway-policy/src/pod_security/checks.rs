//! The Pod Security Standards checks (k8s.io/pod-security-admission `policy` package), as
//! findings per offending field value so that Kyverno's exclusions can remove them one by one.

use serde_json::Value;

use super::{Level, PssViolation, Version};

/// A pod-security-admission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Check {
    HostProcess,
    HostNamespaces,
    Privileged,
    CapabilitiesBaseline,
    HostPathVolumes,
    HostPorts,
    AppArmor,
    SeLinux,
    ProcMount,
    SeccompBaseline,
    Sysctls,
    RestrictedVolumes,
    AllowPrivilegeEscalation,
    RunAsNonRoot,
    RunAsUser,
    SeccompRestricted,
    CapabilitiesRestricted,
}

impl Check {
    /// Kyverno's control name for `exclude[].controlName`.
    pub(super) fn control(self) -> &'static str {
        match self {
            Check::HostProcess => "HostProcess",
            Check::HostNamespaces => "Host Namespaces",
            Check::Privileged => "Privileged Containers",
            Check::CapabilitiesBaseline | Check::CapabilitiesRestricted => "Capabilities",
            Check::HostPathVolumes => "HostPath Volumes",
            Check::HostPorts => "Host Ports",
            Check::AppArmor => "AppArmor",
            Check::SeLinux => "SELinux",
            Check::ProcMount => "/proc Mount Type",
            Check::SeccompBaseline | Check::SeccompRestricted => "Seccomp",
            Check::Sysctls => "Sysctls",
            Check::RestrictedVolumes => "Volume Types",
            Check::AllowPrivilegeEscalation => "Privilege Escalation",
            Check::RunAsNonRoot => "Running as Non-root",
            Check::RunAsUser => "Running as Non-root user",
        }
    }

    /// pod-security-admission's `ForbiddenReason`.
    fn reason(self) -> &'static str {
        match self {
            Check::HostProcess => "hostProcess",
            Check::HostNamespaces => "host namespaces",
            Check::Privileged => "privileged",
            Check::CapabilitiesBaseline => "non-default capabilities",
            Check::HostPathVolumes => "hostPath volumes",
            Check::HostPorts => "hostPort",
            Check::AppArmor => "forbidden AppArmor profile",
            Check::SeLinux => "seLinuxOptions",
            Check::ProcMount => "procMount",
            Check::SeccompBaseline | Check::SeccompRestricted => "seccompProfile",
            Check::Sysctls => "forbidden sysctls",
            Check::RestrictedVolumes => "restricted volume types",
            Check::AllowPrivilegeEscalation => "allowPrivilegeEscalation != false",
            Check::RunAsNonRoot => "runAsNonRoot != true",
            Check::RunAsUser => "runAsUser=0",
            Check::CapabilitiesRestricted => "unrestricted capabilities",
        }
    }
}

/// One offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Finding {
    pub(super) check: Check,
    /// Image of the container the field belongs to (`None` for pod-level fields).
    pub(super) image: Option<String>,
    /// Kyverno-style field path, e.g. `spec.containers[*].securityContext.privileged`.
    pub(super) field: String,
    /// The offending value as text (`true`, `SYS_ADMIN`, `80`, ...).
    pub(super) value: String,
    /// The detail sentence for the message.
    pub(super) detail: String,
}

struct Container<'a> {
    list: &'static str,
    name: &'a str,
    image: &'a str,
    value: &'a Value,
}

fn containers(spec: &Value) -> Vec<Container<'_>> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        if let Some(items) = spec.get(list).and_then(Value::as_array) {
            for c in items {
                out.push(Container {
                    list,
                    name: c.get("name").and_then(Value::as_str).unwrap_or(""),
                    image: c.get("image").and_then(Value::as_str).unwrap_or(""),
                    value: c,
                });
            }
        }
    }
    out
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |cur, key| cur.get(key))
        .filter(|v| !v.is_null())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct Ctx<'a> {
    out: Vec<Finding>,
    spec: &'a Value,
}

impl Ctx<'_> {
    fn pod(&mut self, check: Check, field: &str, value: String, detail: String) {
        self.out.push(Finding {
            check,
            image: None,
            field: format!("spec.{field}"),
            value,
            detail,
        });
    }

    fn container(
        &mut self,
        check: Check,
        c: &Container<'_>,
        field: &str,
        value: String,
        detail: String,
    ) {
        self.out.push(Finding {
            check,
            image: Some(c.image.to_string()),
            field: format!("spec.{}[*].{field}", c.list),
            value,
            detail,
        });
    }
}

const BASELINE_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

const RESTRICTED_VOLUME_SOURCES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn safe_sysctls(version: Version) -> Vec<&'static str> {
    let mut s = vec![
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    ];
    if version.at_least(27) {
        s.push("net.ipv4.ip_local_reserved_ports");
    }
    if version.at_least(29) {
        s.extend([
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        ]);
    }
    s
}

/// All findings of the checks enabled for `level` at `version`.
pub(super) fn run(level: Level, version: Version, metadata: &Value, spec: &Value) -> Vec<Finding> {
    let mut cx = Ctx {
        out: Vec::new(),
        spec,
    };
    if level >= Level::Baseline {
        baseline(&mut cx, version, metadata);
    }
    if level >= Level::Restricted {
        restricted(&mut cx, version);
    }
    cx.out
}

fn quoted(name: &str) -> String {
    format!("{name:?}")
}

fn baseline(cx: &mut Ctx<'_>, version: Version, metadata: &Value) {
    let spec = cx.spec;
    let cs = containers(spec);
    // HostProcess
    if at(spec, &["securityContext", "windowsOptions", "hostProcess"]) == Some(&Value::Bool(true)) {
        cx.pod(
            Check::HostProcess,
            "securityContext.windowsOptions.hostProcess",
            "true".into(),
            "pod must not set securityContext.windowsOptions.hostProcess=true".into(),
        );
    }
    for c in &cs {
        if at(
            c.value,
            &["securityContext", "windowsOptions", "hostProcess"],
        ) == Some(&Value::Bool(true))
        {
            cx.container(
                Check::HostProcess,
                c,
                "securityContext.windowsOptions.hostProcess",
                "true".into(),
                format!(
                    "container {} must not set securityContext.windowsOptions.hostProcess=true",
                    quoted(c.name)
                ),
            );
        }
    }
    // Host namespaces
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(field) == Some(&Value::Bool(true)) {
            cx.pod(
                Check::HostNamespaces,
                field,
                "true".into(),
                format!("{field}=true"),
            );
        }
    }
    for c in &cs {
        // Privileged
        if at(c.value, &["securityContext", "privileged"]) == Some(&Value::Bool(true)) {
            cx.container(
                Check::Privileged,
                c,
                "securityContext.privileged",
                "true".into(),
                format!(
                    "container {} must not set securityContext.privileged=true",
                    quoted(c.name)
                ),
            );
        }
        // Capabilities (baseline)
        if let Some(adds) =
            at(c.value, &["securityContext", "capabilities", "add"]).and_then(Value::as_array)
        {
            for cap in adds {
                let cap = text(cap);
                if !BASELINE_CAPS.contains(&cap.as_str()) {
                    cx.container(
                        Check::CapabilitiesBaseline,
                        c,
                        "securityContext.capabilities.add",
                        cap.clone(),
                        format!(
                            "container {} must not include {} in securityContext.capabilities.add",
                            quoted(c.name),
                            quoted(&cap)
                        ),
                    );
                }
            }
        }
        // Host ports
        if let Some(ports) = c.value.get("ports").and_then(Value::as_array) {
            for port in ports {
                if let Some(hp) = port
                    .get("hostPort")
                    .filter(|v| !v.is_null() && v.as_f64() != Some(0.0))
                {
                    cx.container(
                        Check::HostPorts,
                        c,
                        "ports[*].hostPort",
                        text(hp),
                        format!("container {} uses hostPort {}", quoted(c.name), text(hp)),
                    );
                }
            }
        }
        // /proc mount
        if let Some(pm) =
            at(c.value, &["securityContext", "procMount"]).filter(|v| v.as_str() != Some("Default"))
        {
            cx.container(
                Check::ProcMount,
                c,
                "securityContext.procMount",
                text(pm),
                format!(
                    "container {} must not set securityContext.procMount to {}",
                    quoted(c.name),
                    quoted(&text(pm))
                ),
            );
        }
    }
    // HostPath volumes
    if let Some(vols) = spec.get("volumes").and_then(Value::as_array) {
        for v in vols {
            if v.get("hostPath").is_some_and(|h| !h.is_null()) {
                let name = v.get("name").map(text).unwrap_or_default();
                cx.pod(
                    Check::HostPathVolumes,
                    "volumes[*].hostPath",
                    name.clone(),
                    format!("volume {}", quoted(&name)),
                );
            }
        }
    }
    // AppArmor: annotations, and (newer API) securityContext.appArmorProfile.
    if let Some(annotations) = metadata.get("annotations").and_then(Value::as_object) {
        for (k, v) in annotations {
            if let Some(cname) = k.strip_prefix("container.apparmor.security.beta.kubernetes.io/") {
                let val = text(v);
                if !(val.is_empty() || val == "runtime/default" || val.starts_with("localhost/")) {
                    let image = cs
                        .iter()
                        .find(|c| c.name == cname)
                        .map(|c| c.image.to_string());
                    cx.out.push(Finding {
                        check: Check::AppArmor,
                        image,
                        field: "metadata.annotations".into(),
                        value: val.clone(),
                        detail: format!("{k}={val:?}"),
                    });
                }
            }
        }
    }
    if at(spec, &["securityContext", "appArmorProfile", "type"]).and_then(Value::as_str)
        == Some("Unconfined")
    {
        cx.pod(
            Check::AppArmor,
            "securityContext.appArmorProfile.type",
            "Unconfined".into(),
            "pod must not set securityContext.appArmorProfile.type to \"Unconfined\"".into(),
        );
    }
    for c in &cs {
        if at(c.value, &["securityContext", "appArmorProfile", "type"]).and_then(Value::as_str)
            == Some("Unconfined")
        {
            cx.container(Check::AppArmor, c, "securityContext.appArmorProfile.type", "Unconfined".into(), format!("container {} must not set securityContext.appArmorProfile.type to \"Unconfined\"", quoted(c.name)));
        }
    }
    // SELinux
    let mut types = vec!["", "container_t", "container_init_t", "container_kvm_t"];
    if version.at_least(31) {
        types.push("container_engine_t");
    }
    let selinux = |cx: &mut Ctx<'_>, opts: Option<&Value>, who: Option<&Container<'_>>| {
        let Some(opts) = opts else { return };
        for (field, allowed) in [
            ("type", &types[..]),
            ("user", &[""][..]),
            ("role", &[""][..]),
        ] {
            if let Some(v) = opts.get(field).filter(|v| !v.is_null()) {
                let val = text(v);
                if !allowed.contains(&val.as_str()) {
                    let path = format!("securityContext.seLinuxOptions.{field}");
                    match who {
                        Some(c) => {
                            let d = format!(
                                "container {} set forbidden securityContext.seLinuxOptions: {field} {}",
                                quoted(c.name),
                                quoted(&val)
                            );
                            cx.container(Check::SeLinux, c, &path, val, d);
                        }
                        None => {
                            let d = format!(
                                "pod set forbidden securityContext.seLinuxOptions: {field} {}",
                                quoted(&val)
                            );
                            cx.pod(Check::SeLinux, &path, val, d);
                        }
                    }
                }
            }
        }
    };
    selinux(cx, at(spec, &["securityContext", "seLinuxOptions"]), None);
    for c in &cs {
        selinux(
            cx,
            at(c.value, &["securityContext", "seLinuxOptions"]),
            Some(c),
        );
    }
    // Seccomp (baseline): Unconfined is forbidden (fields since v1.19, annotations before).
    if version.at_least(19) {
        if at(spec, &["securityContext", "seccompProfile", "type"]).and_then(Value::as_str)
            == Some("Unconfined")
        {
            cx.pod(
                Check::SeccompBaseline,
                "securityContext.seccompProfile.type",
                "Unconfined".into(),
                "pod must not set securityContext.seccompProfile.type to \"Unconfined\"".into(),
            );
        }
        for c in &cs {
            if at(c.value, &["securityContext", "seccompProfile", "type"]).and_then(Value::as_str)
                == Some("Unconfined")
            {
                cx.container(Check::SeccompBaseline, c, "securityContext.seccompProfile.type", "Unconfined".into(), format!("container {} must not set securityContext.seccompProfile.type to \"Unconfined\"", quoted(c.name)));
            }
        }
    } else if let Some(annotations) = metadata.get("annotations").and_then(Value::as_object) {
        for (k, v) in annotations {
            let pod_key = k == "seccomp.security.alpha.kubernetes.io/pod";
            let container_key = k.starts_with("container.seccomp.security.alpha.kubernetes.io/");
            if (pod_key || container_key) && text(v) == "unconfined" {
                cx.out.push(Finding {
                    check: Check::SeccompBaseline,
                    image: None,
                    field: "metadata.annotations".into(),
                    value: text(v),
                    detail: format!("{k}=\"unconfined\""),
                });
            }
        }
    }
    // Sysctls
    let safe = safe_sysctls(version);
    if let Some(sysctls) = at(spec, &["securityContext", "sysctls"]).and_then(Value::as_array) {
        for s in sysctls {
            let name = s.get("name").map(text).unwrap_or_default();
            if !safe.contains(&name.as_str()) {
                cx.pod(
                    Check::Sysctls,
                    "securityContext.sysctls[*].name",
                    name.clone(),
                    name,
                );
            }
        }
    }
}

fn is_windows(spec: &Value) -> bool {
    at(spec, &["os", "name"]).and_then(Value::as_str) == Some("windows")
}

fn restricted(cx: &mut Ctx<'_>, version: Version) {
    let spec = cx.spec;
    let cs = containers(spec);
    let windows_exempt = version.at_least(25) && is_windows(spec);
    // Volume types
    if let Some(vols) = spec.get("volumes").and_then(Value::as_array) {
        for v in vols {
            let Some(map) = v.as_object() else { continue };
            let name = map.get("name").map(text).unwrap_or_default();
            for (k, val) in map {
                if k == "name" || val.is_null() || RESTRICTED_VOLUME_SOURCES.contains(&k.as_str()) {
                    continue;
                }
                cx.pod(
                    Check::RestrictedVolumes,
                    "volumes[*]",
                    k.clone(),
                    format!(
                        "volume {} uses restricted volume type {}",
                        quoted(&name),
                        quoted(k)
                    ),
                );
            }
        }
    }
    // Privilege escalation (v1.8+)
    if version.at_least(8) && !windows_exempt {
        for c in &cs {
            let v = at(c.value, &["securityContext", "allowPrivilegeEscalation"]);
            if v != Some(&Value::Bool(false)) {
                let value = v.map(text).unwrap_or_else(|| "null".into());
                cx.container(
                    Check::AllowPrivilegeEscalation,
                    c,
                    "securityContext.allowPrivilegeEscalation",
                    value,
                    format!(
                        "container {} must set securityContext.allowPrivilegeEscalation=false",
                        quoted(c.name)
                    ),
                );
            }
        }
    }
    // Running as non-root: pod-level true covers containers that do not set false.
    let pod_non_root = at(spec, &["securityContext", "runAsNonRoot"]);
    if pod_non_root == Some(&Value::Bool(false)) {
        cx.pod(
            Check::RunAsNonRoot,
            "securityContext.runAsNonRoot",
            "false".into(),
            "pod must not set securityContext.runAsNonRoot=false".into(),
        );
    }
    for c in &cs {
        match at(c.value, &["securityContext", "runAsNonRoot"]) {
            Some(Value::Bool(true)) => {}
            Some(v @ Value::Bool(false)) => {
                cx.container(
                    Check::RunAsNonRoot,
                    c,
                    "securityContext.runAsNonRoot",
                    text(v),
                    format!(
                        "container {} must not set securityContext.runAsNonRoot=false",
                        quoted(c.name)
                    ),
                );
            }
            other => {
                if pod_non_root != Some(&Value::Bool(true)) {
                    let value = other.map(text).unwrap_or_else(|| "null".into());
                    cx.container(
                        Check::RunAsNonRoot,
                        c,
                        "securityContext.runAsNonRoot",
                        value,
                        format!(
                            "pod or container {} must set securityContext.runAsNonRoot=true",
                            quoted(c.name)
                        ),
                    );
                }
            }
        }
    }
    // Running as non-root user (v1.23+)
    if version.at_least(23) {
        let is_zero = |v: Option<&Value>| v.is_some_and(|v| v.as_f64() == Some(0.0));
        if is_zero(at(spec, &["securityContext", "runAsUser"])) {
            cx.pod(
                Check::RunAsUser,
                "securityContext.runAsUser",
                "0".into(),
                "pod must not set runAsUser=0".into(),
            );
        }
        for c in &cs {
            if is_zero(at(c.value, &["securityContext", "runAsUser"])) {
                cx.container(
                    Check::RunAsUser,
                    c,
                    "securityContext.runAsUser",
                    "0".into(),
                    format!("container {} must not set runAsUser=0", quoted(c.name)),
                );
            }
        }
    }
    // Seccomp (restricted, v1.19+): RuntimeDefault or Localhost at pod level or on every container.
    if version.at_least(19) && !windows_exempt {
        let ok = |v: Option<&Value>| {
            matches!(
                v.and_then(Value::as_str),
                Some("RuntimeDefault" | "Localhost")
            )
        };
        let pod_type = at(spec, &["securityContext", "seccompProfile", "type"]);
        if pod_type.is_some() && !ok(pod_type) {
            let val = pod_type.map(text).unwrap_or_default();
            cx.pod(
                Check::SeccompRestricted,
                "securityContext.seccompProfile.type",
                val.clone(),
                format!(
                    "pod must not set securityContext.seccompProfile.type to {}",
                    quoted(&val)
                ),
            );
        }
        for c in &cs {
            let t = at(c.value, &["securityContext", "seccompProfile", "type"]);
            match t {
                Some(_) if ok(t) => {}
                Some(v) => {
                    let val = text(v);
                    cx.container(
                        Check::SeccompRestricted,
                        c,
                        "securityContext.seccompProfile.type",
                        val.clone(),
                        format!(
                            "container {} must not set securityContext.seccompProfile.type to {}",
                            quoted(c.name),
                            quoted(&val)
                        ),
                    );
                }
                None if ok(pod_type) => {}
                None => {
                    cx.container(Check::SeccompRestricted, c, "securityContext.seccompProfile.type", "null".into(), format!("pod or container {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"", quoted(c.name)));
                }
            }
        }
    }
    // Capabilities (restricted, v1.22+): drop ALL, add only NET_BIND_SERVICE.
    if version.at_least(22) && !windows_exempt {
        for c in &cs {
            let drops =
                at(c.value, &["securityContext", "capabilities", "drop"]).and_then(Value::as_array);
            if !drops.is_some_and(|d| d.iter().any(|x| x.as_str() == Some("ALL"))) {
                cx.container(
                    Check::CapabilitiesRestricted,
                    c,
                    "securityContext.capabilities.drop",
                    "null".into(),
                    format!(
                        "container {} must set securityContext.capabilities.drop=[\"ALL\"]",
                        quoted(c.name)
                    ),
                );
            }
            if let Some(adds) =
                at(c.value, &["securityContext", "capabilities", "add"]).and_then(Value::as_array)
            {
                for cap in adds {
                    let cap = text(cap);
                    if cap != "NET_BIND_SERVICE" {
                        cx.container(Check::CapabilitiesRestricted, c, "securityContext.capabilities.add", cap.clone(), format!("container {} must not include {} in securityContext.capabilities.add", quoted(c.name), quoted(&cap)));
                    }
                }
            }
        }
    }
}

/// Groups the remaining findings into one violation per check, in check order.
pub(super) fn violations(findings: &[Finding]) -> Vec<PssViolation> {
    let mut checks: Vec<Check> = findings.iter().map(|f| f.check).collect();
    checks.sort();
    checks.dedup();
    checks
        .into_iter()
        .map(|check| {
            let mut details: Vec<&str> = Vec::new();
            for f in findings.iter().filter(|f| f.check == check) {
                if !details.contains(&f.detail.as_str()) {
                    details.push(&f.detail);
                }
            }
            let joiner = match check {
                Check::HostNamespaces | Check::Sysctls | Check::HostPathVolumes => ", ",
                _ => "; ",
            };
            PssViolation {
                control: check.control().to_string(),
                message: format!("{} ({})", check.reason(), details.join(joiner)),
            }
        })
        .collect()
}
