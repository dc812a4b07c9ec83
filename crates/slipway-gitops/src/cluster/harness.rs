//! The shared suite every [`Cluster`] backend passes: the embedded
//! environment always, a real Kubernetes cluster when `SLIPWAY_TEST_KUBECONFIG`
//! names a kubeconfig (optional `SLIPWAY_TEST_CONTEXT`). It asserts only what
//! both must do, in a namespace of its own that it deletes at the end.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::kube::KubeCluster;
use super::{Cluster, ClusterError, EventType, LabelRequirement, ResourceRef, Selector};
use crate::tracking::set_tracking;

/// Env var naming the kubeconfig of a real test cluster.
pub(crate) const TEST_KUBECONFIG_ENV: &str = "SLIPWAY_TEST_KUBECONFIG";
/// Env var naming its context (default: the current one).
pub(crate) const TEST_CONTEXT_ENV: &str = "SLIPWAY_TEST_CONTEXT";

/// The real test cluster, when one is configured.
pub(crate) fn test_cluster() -> Option<KubeCluster> {
    let Ok(path) = std::env::var(TEST_KUBECONFIG_ENV) else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "skipped: set {TEST_KUBECONFIG_ENV}=/path/to/kubeconfig (and optionally {TEST_CONTEXT_ENV}=NAME) to run the Cluster suite against a real cluster"
            );
        }
        return None;
    };
    let context = std::env::var(TEST_CONTEXT_ENV).unwrap_or_default();
    Some(KubeCluster::connect("test", &path, &context).expect("connect to the test cluster"))
}

fn cm(ns: &str, name: &str, data: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name, "suite": "harness"}},
        "data": data,
    })
}

fn rv(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("numeric resourceVersion")
}

fn names(objs: &[Value]) -> Vec<String> {
    objs.iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

fn managers(obj: &Value) -> BTreeSet<String> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["manager"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the suite against `c` in namespace `ns` (which must not exist).
pub(crate) fn check_cluster(c: &dyn Cluster, ns: &str, runs_workloads: bool) {
    assert_eq!(c.runs_workloads(), runs_workloads);
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    let ns_obj = c.apply(&namespace, "slipway").unwrap();
    assert!(
        ns_obj["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    let start = rv(&ns_obj);

    // Create, then change as another manager: same uid, new resourceVersion,
    // both managers recorded.
    let mut a = cm(ns, "a", json!({"k": "1"}));
    set_tracking(&mut a, "harness-app");
    let a1 = c.apply(&a, "slipway").unwrap();
    assert_eq!(a1["data"]["k"], "1");
    assert!(a1["metadata"]["creationTimestamp"].is_string());
    let uid = a1["metadata"]["uid"].clone();
    c.apply(&cm(ns, "b", json!({})), "slipway").unwrap();
    let a2 = c
        .apply(
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": ns}, "data": {"k": "2"}}),
            "alice",
        )
        .unwrap();
    assert_eq!(a2["metadata"]["uid"], uid);
    assert_eq!(a2["data"]["k"], "2");
    assert!(rv(&a2) > rv(&a1));
    let m = managers(&a2);
    assert!(m.contains("alice") && m.contains("slipway"), "{m:?}");
    // Another manager's apply left slipway's labels and annotation alone.
    assert_eq!(a2["metadata"]["labels"]["app"], "a");
    // A no-op apply writes nothing.
    let a3 = c
        .apply(
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": ns}, "data": {"k": "2"}}),
            "alice",
        )
        .unwrap();
    assert_eq!(rv(&a3), rv(&a2));

    // Get.
    let got = c
        .get(&ResourceRef::new("", "ConfigMap", ns, "a"))
        .unwrap()
        .expect("a exists");
    assert_eq!(got["apiVersion"], "v1");
    assert_eq!(got["kind"], "ConfigMap");
    assert_eq!(got["data"]["k"], "2");
    assert!(
        c.get(&ResourceRef::new("", "ConfigMap", ns, "none"))
            .unwrap()
            .is_none()
    );
    assert!(
        c.get(&ResourceRef::new("nope.slipway.dev", "Widget", ns, "w"))
            .unwrap()
            .is_none(),
        "a kind nobody serves has no objects"
    );

    // List by kind, namespace and labels; sorted by identity.
    let by = |labels: Vec<LabelRequirement>| Selector {
        group_kind: Some((String::new(), "ConfigMap".into())),
        namespace: Some(ns.into()),
        labels,
        tracked_by: None,
    };
    let suite = LabelRequirement::Equals("suite".into(), "harness".into());
    assert_eq!(
        names(&c.list(&by(vec![suite.clone()])).unwrap()),
        ["a", "b"]
    );
    assert_eq!(
        names(
            &c.list(&by(vec![
                suite.clone(),
                LabelRequirement::NotEquals("app".into(), "a".into())
            ]))
            .unwrap()
        ),
        ["b"]
    );
    assert_eq!(
        names(
            &c.list(&by(vec![
                LabelRequirement::NotExists("suite".into()),
                LabelRequirement::Exists("app".into())
            ]))
            .unwrap()
        ),
        Vec::<String>::new()
    );
    // By tracking annotation, across kinds.
    let tracked = c
        .list(&Selector {
            tracked_by: Some("harness-app".into()),
            namespace: Some(ns.into()),
            ..Selector::default()
        })
        .unwrap();
    assert_eq!(names(&tracked), ["a"]);
    assert_eq!(tracked[0]["kind"], "ConfigMap");

    // Invalid objects name what is wrong.
    let err = c
        .apply(
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
            "m",
        )
        .unwrap_err();
    assert!(matches!(err, ClusterError::Invalid { .. }), "{err}");
    assert!(
        err.to_string().contains("metadata.namespace is required"),
        "{err}"
    );
    let err = c
        .apply(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "namespace": ns}}),
            "m",
        )
        .unwrap_err();
    assert!(err.to_string().contains("cluster-scoped"), "{err}");

    // Delete: true once, then false; gone afterwards.
    let b = ResourceRef::new("", "ConfigMap", ns, "b");
    assert!(c.delete(&b, "bob").unwrap());
    assert!(!c.delete(&b, "bob").unwrap());
    assert!(c.get(&b).unwrap().is_none());

    // Changes since the namespace was made, oldest first.
    let events: Vec<_> = c
        .events_since(start)
        .unwrap()
        .into_iter()
        .filter(|e| e.resource.namespace == ns)
        .collect();
    assert!(
        events.windows(2).all(|w| w[0].revision <= w[1].revision),
        "{events:?}"
    );
    assert!(events.iter().all(|e| e.revision > start));
    let of = |name: &str| -> Vec<EventType> {
        events
            .iter()
            .filter(|e| e.resource.name == name)
            .map(|e| e.event)
            .collect()
    };
    assert_eq!(
        of("a"),
        [EventType::Added, EventType::Modified],
        "{events:?}"
    );
    // A real API server may report the deletion's finalizer steps as
    // modifications before the deletion itself.
    let b_events = of("b");
    assert_eq!(b_events.first(), Some(&EventType::Added), "{events:?}");
    assert_eq!(b_events.last(), Some(&EventType::Deleted), "{events:?}");
    let modified_a = events
        .iter()
        .find(|e| e.resource.name == "a" && e.event == EventType::Modified)
        .unwrap();
    // The API server stamps managedFields to the second, so when both writes
    // share a second the latest writer cannot be told apart from the other.
    assert!(
        ["alice", "slipway"].contains(&modified_a.manager.as_str()),
        "{modified_a:?}"
    );

    // Deleting the namespace deletes what lives in it.
    assert!(
        c.delete(&ResourceRef::new("", "Namespace", "", ns), "slipway")
            .unwrap()
    );
    assert!(
        c.get(&ResourceRef::new("", "ConfigMap", ns, "a"))
            .unwrap()
            .is_none()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::embedded::EmbeddedCluster;

    #[test]
    fn embedded_environment_passes_the_cluster_suite() {
        let dir = tempfile::tempdir().unwrap();
        let env = EmbeddedCluster::open(dir.path(), "local").unwrap();
        check_cluster(&env, "harness", false);
    }

    #[test]
    fn kubernetes_cluster_passes_the_cluster_suite() {
        let Some(cluster) = test_cluster() else {
            return;
        };
        let ns = format!("slipway-test-{}", uuid::Uuid::new_v4().simple());
        check_cluster(&cluster, &ns[..30], true);
    }
}
