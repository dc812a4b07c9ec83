//! Resource selectors for patch and replacement targets: gvk, name and
//! namespace as anchored regular expressions, label and annotation selectors.

use regex::Regex;
use serde_json::{Map, Value};

use super::resource::Resource;

/// A parsed `target` / `select` block.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selector {
    pub group: Option<Regex>,
    pub version: Option<Regex>,
    pub kind: Option<Regex>,
    pub name: Option<Regex>,
    pub namespace: Option<Regex>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

fn anchored(field: &str, s: &str) -> Result<Option<Regex>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{s})$"))
        .map(Some)
        .map_err(|e| format!("invalid regular expression in `{field}`: {e}"))
}

impl Selector {
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let Some(m) = v.as_object() else {
            return Err("a target selector must be a mapping".into());
        };
        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        for key in m.keys() {
            if !matches!(
                key.as_str(),
                "group"
                    | "version"
                    | "kind"
                    | "name"
                    | "namespace"
                    | "labelSelector"
                    | "annotationSelector"
            ) {
                return Err(format!("unknown field `{key}` in target selector"));
            }
        }
        let opt = |k: &str| Some(s(k)).filter(|x| !x.is_empty());
        Ok(Self {
            group: anchored("group", &s("group"))?,
            version: anchored("version", &s("version"))?,
            kind: anchored("kind", &s("kind"))?,
            name: anchored("name", &s("name"))?,
            namespace: anchored("namespace", &s("namespace"))?,
            label_selector: opt("labelSelector"),
            annotation_selector: opt("annotationSelector"),
        })
    }

    /// Upstream's `resWrangler.Select` test for one resource.
    pub fn matches(&self, r: &Resource) -> Result<bool, String> {
        let cur = r.cur_id();
        let org = &r.org;
        if let Some(ns) = &self.namespace
            && !ns.is_match(org.effective_namespace())
            && !ns.is_match(cur.effective_namespace())
        {
            return Ok(false);
        }
        if let Some(name) = &self.name
            && !name.is_match(&org.name)
            && !name.is_match(&cur.name)
        {
            return Ok(false);
        }
        let gvk = r.gvk();
        let m = |re: &Option<Regex>, s: &str| re.as_ref().is_none_or(|re| re.is_match(s));
        if !m(&self.group, &gvk.group)
            || !m(&self.version, &gvk.version)
            || !m(&self.kind, &gvk.kind)
        {
            return Ok(false);
        }
        if let Some(ls) = &self.label_selector
            && !label_selector_matches(ls, &r.labels())?
        {
            return Ok(false);
        }
        if let Some(an) = &self.annotation_selector
            && !label_selector_matches(an, &r.annotations())?
        {
            return Ok(false);
        }
        Ok(true)
    }
}

/// Evaluates a Kubernetes label selector string (`a=b`, `a!=b`, `a in (x,y)`,
/// `a notin (x)`, `a`, `!a`) against a label map.
pub(crate) fn label_selector_matches(
    sel: &str,
    labels: &Map<String, Value>,
) -> Result<bool, String> {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    for req in split_requirements(sel) {
        let req = req.trim();
        if req.is_empty() {
            continue;
        }
        let ok = if let Some((k, rest)) = req.split_once(" notin ") {
            let set = parse_set(rest)?;
            get(k.trim()).is_none_or(|v| !set.iter().any(|s| s == v))
        } else if let Some((k, rest)) = req.split_once(" in ") {
            let set = parse_set(rest)?;
            get(k.trim()).is_some_and(|v| set.iter().any(|s| s == v))
        } else if let Some((k, v)) = req.split_once("!=") {
            get(k.trim()) != Some(v.trim())
        } else if let Some((k, v)) = req.split_once("==") {
            get(k.trim()) == Some(v.trim())
        } else if let Some((k, v)) = req.split_once('=') {
            get(k.trim()) == Some(v.trim())
        } else if let Some(k) = req.strip_prefix('!') {
            get(k.trim()).is_none()
        } else {
            get(req).is_some()
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn split_requirements(sel: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in sel.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn parse_set(s: &str) -> Result<Vec<String>, String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(|| format!("invalid label selector set `{s}`"))?;
    Ok(inner.split(',').map(|x| x.trim().to_string()).collect())
}
