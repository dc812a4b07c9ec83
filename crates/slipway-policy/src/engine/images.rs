//! The `images` built-in variable: for Pods and pod templates,
//! `images.<containers|initContainers|ephemeralContainers>.<name>` with the
//! parsed reference (registry, path, name, tag, digest, reference,
//! referenceWithTag), `docker.io` added as Kyverno does.

use serde_json::{Map, Value};

use crate::jmes::image::ImageInfo;

/// The pod spec of a Pod or of a pod controller's template.
pub(crate) fn pod_spec(resource: &Value) -> Option<&Value> {
    match resource.get("kind").and_then(Value::as_str)? {
        "Pod" => resource.get("spec"),
        "CronJob" => resource.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => resource.pointer("/spec/template/spec"),
    }
}

/// The pod metadata of a Pod or of a pod controller's template.
pub(crate) fn pod_metadata(resource: &Value) -> Option<&Value> {
    match resource.get("kind").and_then(Value::as_str)? {
        "Pod" => resource.get("metadata"),
        "CronJob" => resource.pointer("/spec/jobTemplate/spec/template/metadata"),
        _ => resource.pointer("/spec/template/metadata"),
    }
}

/// The `images` object for a resource, or `None` when it has no containers.
pub(crate) fn images_of(resource: &Value) -> Option<Value> {
    let spec = pod_spec(resource)?;
    let mut out = Map::new();
    for kind in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(list) = spec.get(kind).and_then(Value::as_array) else {
            continue;
        };
        let mut by_name = Map::new();
        for c in list {
            let (Some(name), Some(image)) = (
                c.get("name").and_then(Value::as_str),
                c.get("image").and_then(Value::as_str),
            ) else {
                continue;
            };
            if let Ok(info) = ImageInfo::parse(image) {
                by_name.insert(name.to_string(), info.to_context_value());
            }
        }
        if !by_name.is_empty() {
            out.insert(kind.to_string(), Value::Object(by_name));
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pod_images_get_default_registry_and_tag() {
        let pod = json!({"kind": "Pod", "spec": {"containers": [
            {"name": "a", "image": "nginx"},
            {"name": "b", "image": "ghcr.io/org/app:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
        ]}});
        let images = images_of(&pod).unwrap();
        assert_eq!(images["containers"]["a"]["registry"], "docker.io");
        assert_eq!(images["containers"]["a"]["path"], "nginx");
        assert_eq!(images["containers"]["a"]["tag"], "latest");
        assert_eq!(
            images["containers"]["a"]["reference"],
            "docker.io/nginx:latest"
        );
        assert_eq!(images["containers"]["b"]["registry"], "ghcr.io");
        assert_eq!(images["containers"]["b"]["name"], "app");
        assert_eq!(images["containers"]["b"]["tag"], "1.2");
        assert_eq!(
            images["containers"]["b"]["referenceWithTag"],
            "ghcr.io/org/app:1.2"
        );
    }

    #[test]
    fn controller_templates_are_read() {
        let d = json!({"kind": "Deployment", "spec": {"template": {"spec": {"initContainers": [{"name": "i", "image": "busybox:1"}]}}}});
        assert_eq!(images_of(&d).unwrap()["initContainers"]["i"]["tag"], "1");
        let cj = json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}}});
        assert!(images_of(&cj).is_some());
        assert!(images_of(&json!({"kind": "ConfigMap"})).is_none());
    }
}
