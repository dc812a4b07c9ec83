//! Every ClusterPolicy of the visible Kyverno corpus loads: the `cpol` ones as
//! evaluable policies, the `cpol-cel` ones as unsupported (CEL), none rejected.
//! Kyverno's CI runs all of them, so a rejection here is a loader bug.

// The test reports a skip on stderr when the corpus is absent (see HELPERS.md).
#![allow(clippy::print_stderr)]

use std::path::PathBuf;

use slipway_policy::model::{LoadedPolicy, load_policies_lenient};

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("SLIPWAY_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/conformance"
            ))
        });
    let k = dir.join("kyverno");
    if k.join("index.json").exists() {
        Some(k)
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "conformance corpus missing at {}",
            k.display()
        );
        None
    }
}

#[test]
fn corpus_cluster_policies_load() {
    let Some(root) = corpus() else {
        eprintln!("skipped: conformance corpus not found");
        return;
    };
    let index: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(root.join("index.json")).unwrap()).unwrap();
    let mut loaded = 0;
    for suite in index["suites"].as_array().unwrap() {
        let family = suite["family"].as_str().unwrap();
        if family != "cpol" && family != "cpol-cel" {
            continue;
        }
        for f in suite["files"].as_array().unwrap() {
            let f = f.as_str().unwrap();
            if f.contains("/.kyverno-test/") || f.contains("/.chainsaw-test/") {
                continue;
            }
            let docs = slipway_manifests::load_path(&root.join(f)).unwrap();
            for p in load_policies_lenient(&docs) {
                match (&p, family) {
                    (LoadedPolicy::Kyverno(_), "cpol")
                    | (LoadedPolicy::Unsupported { .. }, "cpol-cel") => loaded += 1,
                    (LoadedPolicy::Invalid { error, .. }, _) => panic!("{f}: {error}"),
                    (other, _) => panic!("{f}: unexpected {other:?}"),
                }
            }
        }
    }
    assert!(loaded > 200, "only {loaded} policies loaded");
}
