//! Name references: after every rename (prefix, suffix, hash), fields that
//! name another resource (a ConfigMap in a pod spec, a ServiceAccount in a
//! RoleBinding...) are rewritten to the referred resource's final name
//! (upstream's `nameref` filter and its candidate sieves).

use crate::kustomize::resource::GvkExt;
use serde_json::Value;

use super::config::{FieldSpec, NameBackRef};
use super::fieldspec::{self, CreateKind};
use super::resource::{Gvk, ResId, Resource};

/// What the sieves need to know about a possible referral.
#[derive(Debug, Clone)]
struct Candidate {
    cur: ResId,
    prev: Vec<ResId>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

/// Rewrites references in every resource.
pub(crate) fn fix_back_references(
    resources: &mut [Resource],
    name_reference: &[NameBackRef],
) -> Result<(), String> {
    let candidates: Vec<Candidate> = resources
        .iter()
        .map(|r| Candidate {
            cur: r.cur_id(),
            prev: r.prev_ids().to_vec(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        })
        .collect();
    for backref in name_reference {
        for r in resources.iter_mut() {
            let referrer_gvk = r.gvk();
            let referrer = Candidate {
                cur: r.cur_id(),
                prev: Vec::new(),
                prefixes: r.prefixes.clone(),
                suffixes: r.suffixes.clone(),
            };
            let role_ref_kind = r
                .obj
                .get("roleRef")
                .and_then(|x| x.get("kind"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let subset = subset_referable(&r.obj, &referrer.cur, &candidates);
            for fs in &backref.field_specs {
                if !referrer_gvk.is_selected_by(&fs.gvk) {
                    continue;
                }
                let ctx = Ctx {
                    target: &backref.gvk,
                    fs,
                    referrer: &referrer,
                    role_ref_kind: role_ref_kind.as_deref(),
                    candidates: &subset,
                };
                fieldspec::apply(
                    &mut r.obj,
                    &FieldSpec {
                        create: false,
                        ..fs.clone()
                    },
                    CreateKind::Scalar,
                    &mut |node| ctx.set(node),
                )
                .map_err(|e| format!("{}: {e}", referrer.cur))?;
            }
        }
    }
    Ok(())
}

/// Upstream's `SubsetThatCouldBeReferencedByResource`.
fn subset_referable(obj: &Value, referrer: &ResId, all: &[Candidate]) -> Vec<Candidate> {
    if referrer.gvk.is_cluster_scoped() {
        return all.to_vec();
    }
    let mut rb_namespaces: Vec<String> = Vec::new();
    if matches!(
        referrer.gvk.kind.as_str(),
        "RoleBinding" | "ClusterRoleBinding"
    ) && let Some(subjects) = obj.get("subjects").and_then(Value::as_array)
    {
        for s in subjects {
            if s.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                && let Some(ns) = s.get("namespace").and_then(Value::as_str)
            {
                rb_namespaces.push(ns.to_string());
            }
        }
    }
    all.iter()
        .filter(|c| {
            c.cur.gvk.is_cluster_scoped()
                || c.cur.ns_equals(referrer)
                || rb_namespaces.contains(&c.cur.namespace)
        })
        .cloned()
        .collect()
}

struct Ctx<'a> {
    target: &'a Gvk,
    fs: &'a FieldSpec,
    referrer: &'a Candidate,
    role_ref_kind: Option<&'a str>,
    candidates: &'a [Candidate],
}

impl Ctx<'_> {
    fn set(&self, node: &mut Value) -> Result<(), String> {
        match node {
            Value::Null => Ok(()),
            Value::String(_) => self.set_scalar(node, self.candidates),
            Value::Object(_) => self.set_mapping(node),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(_) => self.set_scalar(item, self.candidates)?,
                        Value::Object(_) => self.set_mapping(item)?,
                        _ => {}
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn set_scalar(&self, node: &mut Value, candidates: &[Candidate]) -> Result<(), String> {
        let Some(old) = node.as_str() else {
            return Ok(());
        };
        if let Some(c) = self.select(old, candidates, false)? {
            *node = Value::String(c.cur.name.clone());
        }
        Ok(())
    }

    /// A map with `name` (and maybe `namespace`) fields, such as a
    /// RoleBinding subject: both are taken from the referral.
    fn set_mapping(&self, node: &mut Value) -> Result<(), String> {
        let Some(map) = node.as_object_mut() else {
            return Ok(());
        };
        let Some(old) = map.get("name").and_then(Value::as_str).map(str::to_string) else {
            return Err(format!(
                "path config error; no 'name' field in node at `{}`",
                self.fs.path
            ));
        };
        let filtered: Vec<Candidate> = match map.get("namespace") {
            None => self.candidates.to_vec(),
            Some(ns) => {
                let ns = super::kustomization::scalar_string(ns).unwrap_or_default();
                // Upstream groups by the original namespace first, then by the
                // current one; cluster-scoped objects are in neither group.
                let by = |id_of: &dyn Fn(&Candidate) -> ResId| -> Vec<Candidate> {
                    self.candidates
                        .iter()
                        .filter(|c| {
                            let id = id_of(c);
                            !id.gvk.is_cluster_scoped() && id.effective_namespace() == ns
                        })
                        .cloned()
                        .collect()
                };
                let by_org = by(&|c| c.prev.first().unwrap_or(&c.cur).clone());
                if by_org.is_empty() {
                    by(&|c| c.cur.clone())
                } else {
                    by_org
                }
            }
        };
        let Some(c) = self.select(&old, &filtered, true)? else {
            return Ok(());
        };
        if c.cur.name == old && c.cur.namespace.is_empty() {
            return Ok(());
        }
        map.insert("name".into(), Value::String(c.cur.name.clone()));
        if !c.cur.namespace.is_empty() {
            map.insert("namespace".into(), Value::String(c.cur.namespace.clone()));
        }
        Ok(())
    }

    /// Upstream's `selectReferral`.
    fn select<'c>(
        &self,
        old: &str,
        candidates: &'c [Candidate],
        compare_namespaces: bool,
    ) -> Result<Option<&'c Candidate>, String> {
        let is_role_ref = self.fs.path.ends_with("roleRef/name");
        let mut list: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| c.prev.iter().any(|id| id.name == old))
            .filter(|c| c.prev.iter().any(|id| id.gvk.is_selected_by(self.target)))
            .filter(|c| {
                !is_role_ref
                    || self
                        .role_ref_kind
                        .is_none_or(|k| c.prev.first().is_some_and(|id| id.gvk.kind == k))
            })
            .filter(|c| {
                self.referrer.cur.gvk.is_cluster_scoped()
                    || c.cur.gvk.is_cluster_scoped()
                    || c.cur.gvk.kind == "ServiceAccount"
                    || c.cur.ns_equals(&self.referrer.cur)
            })
            .collect();
        if list.len() == 1 {
            return Ok(list.pop());
        }
        if list.is_empty() {
            return Ok(None);
        }
        let same_affixes: Vec<&Candidate> = list
            .iter()
            .copied()
            .filter(|c| {
                same_ending(&c.prefixes, &self.referrer.prefixes)
                    && same_ending(&c.suffixes, &self.referrer.suffixes)
            })
            .collect();
        let list = same_affixes;
        if list.len() == 1 {
            return Ok(list.first().copied());
        }
        let Some(first) = list.first() else {
            return Ok(None);
        };
        if list.iter().all(|c| {
            c.cur.name == first.cur.name
                && (!compare_namespaces || c.cur.namespace == first.cur.namespace)
        }) {
            return Ok(Some(first));
        }
        let ids: Vec<String> = list.iter().map(|c| c.cur.to_string()).collect();
        Err(format!(
            "updating name reference to `{old}` in '{}' field: found multiple possible referrals: {}",
            self.fs.path,
            ids.join(", ")
        ))
    }
}

/// Upstream's `SameEndingSubSlice`: the shorter list is a suffix of the
/// longer one (an empty list only matches an empty list).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}
