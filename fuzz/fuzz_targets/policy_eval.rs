//! A policy document and a resource document, separated by a line `%%`:
//! loading and evaluating them gives responses or errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_policy::engine::{ContextValues, Engine, Request};
use slipway_policy::model::{LoadedPolicy, load_policies};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (policy_text, resource_text) = text.split_once("\n%%\n").unwrap_or((text, ""));
    let Ok(policy_docs) = slipway_manifests::load_str(policy_text, "policy.yaml") else { return };
    let Ok(policies) = load_policies(&policy_docs) else { return };
    let resources = slipway_manifests::load_str(resource_text, "resource.yaml").unwrap_or_default();
    let engine = Engine::new();
    for doc in &resources {
        let req = Request { object: doc.object.clone(), ..Request::default() };
        for p in &policies {
            if let LoadedPolicy::Kyverno(p) = p {
                let values = ContextValues::default();
                let _ = engine.mutate(p, &req, &values);
                let _ = engine.validate(p, &req, &values);
                let _ = engine.generate(p, &req, &values);
            }
        }
    }
});
