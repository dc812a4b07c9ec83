//! Resource tracking with Argo CD's annotation
//! `argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<namespace>/<name>`.

use serde_json::Value;
use slipway_model::ObjectExt;

use crate::cluster::ResourceRef;

/// The tracking annotation.
pub const TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";

/// The tracking id of a resource in an app (`app:/Namespace:/ns` for the core group).
pub fn tracking_id(app: &str, r: &ResourceRef) -> String {
    format!("{app}:{}/{}:{}/{}", r.group, r.kind, r.namespace, r.name)
}

/// The parts of a tracking id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingId {
    /// The Application's name.
    pub app: String,
    /// The resource it claims.
    pub resource: ResourceRef,
}

/// Parses a tracking id; `None` when it is not in Argo CD's format.
pub fn parse_tracking_id(id: &str) -> Option<TrackingId> {
    let (app, rest) = id.split_once(':')?;
    let (gk, nsn) = rest.split_once(':')?;
    let (group, kind) = gk.split_once('/')?;
    let (namespace, name) = nsn.split_once('/')?;
    if app.is_empty() || kind.is_empty() || name.is_empty() {
        return None;
    }
    Some(TrackingId {
        app: app.into(),
        resource: ResourceRef::new(group, kind, namespace, name),
    })
}

/// The app that tracks this object, when its annotation is valid and matches
/// the object itself (a copied annotation on another object does not count,
/// as in Argo CD).
pub fn tracked_app(obj: &Value) -> Option<String> {
    let id = obj.annotations()?.get(TRACKING_ANNOTATION)?.as_str()?;
    let t = parse_tracking_id(id)?;
    let me = ResourceRef::of(obj);
    (t.resource == me).then_some(t.app)
}

/// Sets the tracking annotation on a desired object.
pub fn set_tracking(obj: &mut Value, app: &str) {
    let id = tracking_id(app, &ResourceRef::of(obj));
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = serde_json::json!({});
    }
    let meta = &mut obj["metadata"];
    if !meta.get("annotations").is_some_and(Value::is_object) {
        meta["annotations"] = serde_json::json!({});
    }
    meta["annotations"][TRACKING_ANNOTATION] = Value::String(id);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn format_and_parse() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}});
        set_tracking(&mut d, "my-app");
        assert_eq!(
            d["metadata"]["annotations"][TRACKING_ANNOTATION],
            "my-app:apps/Deployment:shop/web"
        );
        assert_eq!(tracked_app(&d).as_deref(), Some("my-app"));
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
        assert_eq!(
            tracking_id("app", &ResourceRef::of(&ns)),
            "app:/Namespace:/shop"
        );
        // Copied onto another object: not tracked.
        let mut other = d.clone();
        other["metadata"]["name"] = json!("copy");
        assert_eq!(tracked_app(&other), None);
        assert_eq!(parse_tracking_id("bad"), None);
    }
}
