//! MutatingPolicy mutations: an ApplyConfiguration is merged into the object
//! (maps recursively, lists of known Kubernetes fields by their merge key,
//! as server-side apply does for built-in types); a JSONPatch expression
//! returns RFC 6902 operations, applied in order.

use serde_json::Value as Json;

use super::lang::{self, Activation};
use super::policy::CelMutation;

/// Applies one mutation to `object`, returning the new object.
pub(crate) fn apply(m: &CelMutation, act: &Activation<'_>, object: &Json) -> Result<Json, String> {
    match m {
        CelMutation::ApplyConfiguration(p) => {
            let overlay = lang::cel_to_json(&lang::eval(p, act)?);
            if !overlay.is_object() {
                return Err(format!(
                    "applyConfiguration must return an object, got {overlay}"
                ));
            }
            crate::mutate::strategic_merge(object, &overlay)
                .map(|o| o.patched)
                .map_err(|e| e.to_string())
        }
        CelMutation::JsonPatch(p) => {
            let ops = match lang::cel_to_json(&lang::eval(p, act)?) {
                Json::Array(ops) => ops,
                other => {
                    return Err(format!(
                        "jsonPatch must return a list of JSONPatch, got {other}"
                    ));
                }
            };
            crate::mutate::json_patch_ops(object, &ops)
                .map(|o| o.patched)
                .map_err(|e| e.to_string())
        }
    }
}
