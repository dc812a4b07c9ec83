//! The `replacements` field (copying a field of one resource into fields of
//! others).

use super::KustomizeError;
use super::kustomization::Kustomization;
use super::resource::Resource;

/// Runs the kustomization's replacements over the accumulated resources.
pub(crate) fn run(k: &Kustomization, _resources: &mut [Resource]) -> Result<(), KustomizeError> {
    Err(KustomizeError::Unsupported {
        path: k.path.clone(),
        field: "replacements".into(),
    })
}
