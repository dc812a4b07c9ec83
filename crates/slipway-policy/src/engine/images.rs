//! The `images` built-in variable: for Pods and pod templates,
//! `images.<containers|initContainers|ephemeralContainers>.<name>` with the
//! parsed reference (registry, path, name, tag, digest, reference,
//! referenceWithTag), `docker.io` added as Kyverno does.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::jmes::image::ImageInfo;

/// Parsed references are kept per thread: the same few images recur across
/// requests and parsing one is a full `distribution/reference` regex match.
/// The cache is cleared when it grows past this many entries.
const IMAGE_CACHE_LIMIT: usize = 4096;

thread_local! {
    static IMAGE_CACHE: RefCell<HashMap<String, Option<Value>>> = RefCell::new(HashMap::new());
}

/// The `images.<kind>.<name>` value of a reference, `None` when it is invalid.
fn image_value(image: &str) -> Option<Value> {
    if let Some(hit) = IMAGE_CACHE.with(|c| c.borrow().get(image).cloned()) {
        return hit;
    }
    let v = ImageInfo::parse(image).ok().map(|i| i.to_context_value());
    IMAGE_CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= IMAGE_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(image.to_owned(), v.clone());
    });
    v
}

/// The pod spec of a Pod or of a pod controller's template.
pub(crate) fn pod_spec(resource: &Value) -> Option<&Value> {
    match resource.get("kind").and_then(Value::as_str)? {
        "Pod" => resource.get("spec"),
        "CronJob" => path(
            resource,
            &["spec", "jobTemplate", "spec", "template", "spec"],
        ),
        _ => path(resource, &["spec", "template", "spec"]),
    }
}

/// The pod metadata of a Pod or of a pod controller's template.
pub(crate) fn pod_metadata(resource: &Value) -> Option<&Value> {
    match resource.get("kind").and_then(Value::as_str)? {
        "Pod" => resource.get("metadata"),
        "CronJob" => path(
            resource,
            &["spec", "jobTemplate", "spec", "template", "metadata"],
        ),
        _ => path(resource, &["spec", "template", "metadata"]),
    }
}

/// The value under a path of object keys (`Value::pointer` without parsing
/// and unescaping a pointer string on every call).
pub(crate) fn path<'v>(value: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter().try_fold(value, |v, k| v.get(*k))
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
            if let Some(v) = image_value(image) {
                by_name.insert(name.to_string(), v);
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
