//! npm: package-lock.json / npm-shrinkwrap.json (lockfile v1 to v3) and yarn.lock (v1 and berry).

use std::path::Path;

use serde_json::Value;

use super::{InventoryError, Package, purl};

fn npm(name: &str, version: &str, path: &Path) -> Package {
    let mut p = Package::new(name, version, "npm", path);
    p.purl = purl("npm", name, version);
    p
}

/// The commit of a git dependency spec (`git+https://...#<sha>`, `github:a/b#<sha>`).
fn git_commit(spec: &str) -> Option<String> {
    let is_git = spec.starts_with("git") || spec.starts_with("github:") || spec.contains(".git#");
    if !is_git {
        return None;
    }
    spec.rsplit_once('#').map(|(_, c)| c.to_owned())
}

fn groups(entry: &Value) -> Vec<String> {
    let flag = |k: &str| entry.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut g = Vec::new();
    if flag("inBundle") || flag("bundled") {
        g.push("bundled".to_owned());
    }
    if flag("dev") || flag("devOptional") {
        g.push("dev".to_owned());
    }
    if flag("optional") || flag("devOptional") {
        g.push("optional".to_owned());
    }
    g
}

/// Packages of a package-lock.json: v2/v3 `packages`, else v1 `dependencies`
/// (nested duplicates listed separately). Aliases report the real package.
///
/// # Errors
/// When the file is not JSON.
pub fn parse_package_lock(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| InventoryError::malformed(path, e.line(), e.to_string()))?;
    let mut out = Vec::new();
    if let Some(packages) = v.get("packages").and_then(Value::as_object) {
        for (key, entry) in packages {
            // "" is the project itself; links point at another entry.
            if key.is_empty() || entry.get("link").and_then(Value::as_bool).unwrap_or(false) {
                continue;
            }
            let key_name = match key.rfind("node_modules/") {
                Some(idx) => &key[idx + "node_modules/".len()..],
                None => key.rsplit('/').next().unwrap_or(key),
            };
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(key_name);
            let version = entry.get("version").and_then(Value::as_str).unwrap_or("");
            let mut p = npm(name, version, path);
            p.commit = entry
                .get("resolved")
                .and_then(Value::as_str)
                .and_then(git_commit);
            p.dep_groups = groups(entry);
            out.push(p);
        }
        return Ok(dedup(out));
    }
    fn walk(deps: &serde_json::Map<String, Value>, path: &Path, out: &mut Vec<Package>) {
        for (key, entry) in deps {
            let raw = entry.get("version").and_then(Value::as_str).unwrap_or("");
            let (name, version) = match raw.strip_prefix("npm:") {
                Some(alias) => match alias[1..].find('@') {
                    Some(i) => (&alias[..=i], &alias[i + 2..]),
                    None => (alias, ""),
                },
                None => (key.as_str(), raw),
            };
            let commit = git_commit(version);
            // Git and `file:` dependencies have no registry version.
            let version = if commit.is_some() || version.starts_with("file:") {
                ""
            } else {
                version
            };
            let mut p = npm(name, version, path);
            p.commit = commit;
            p.dep_groups = groups(entry);
            out.push(p);
            if let Some(nested) = entry.get("dependencies").and_then(Value::as_object) {
                walk(nested, path, out);
            }
        }
    }
    if let Some(deps) = v.get("dependencies").and_then(Value::as_object) {
        walk(deps, path, &mut out);
    }
    Ok(dedup(out))
}

/// One package per (name, version, commit); it stays in a group (`dev`, ...)
/// only if every copy is in it.
fn dedup(packages: Vec<Package>) -> Vec<Package> {
    let mut out: Vec<Package> = Vec::new();
    for p in packages {
        match out
            .iter_mut()
            .find(|q| q.name == p.name && q.version == p.version && q.commit == p.commit)
        {
            Some(q) => q.dep_groups.retain(|g| p.dep_groups.contains(g)),
            None => out.push(p),
        }
    }
    out
}

/// Name in a yarn.lock descriptor (`"@scope/a@^1"`, `alias@npm:real@^1`).
fn yarn_name(spec: &str) -> &str {
    let spec = spec.trim().trim_matches('"');
    let (scoped, body) = match spec.strip_prefix('@') {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let at = body
        .find('@')
        .map_or(spec.len(), |i| i + usize::from(scoped));
    let name = &spec[..at];
    let range = &spec[at.min(spec.len())..];
    if let Some(real) = range.strip_prefix("@npm:")
        && !real.starts_with(|c: char| {
            c.is_ascii_digit() || matches!(c, '^' | '~' | '>' | '<' | '=' | '*')
        })
    {
        return yarn_name(real);
    }
    name
}

/// Packages of a yarn.lock (classic v1 and berry).
///
/// # Errors
/// When an entry has no version.
pub fn parse_yarn_lock(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut flush =
        |cur: &mut Option<(usize, String)>, version: Option<String>, commit: Option<String>| {
            if let Some((line, name)) = cur.take() {
                let version = version.unwrap_or_default();
                if version.contains("use.local") {
                    return;
                }
                let mut p = npm(&name, &version, path);
                p.line = Some(line);
                p.commit = commit;
                out.push(p);
            }
        };
    let mut version: Option<String> = None;
    let mut commit: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        if !raw.starts_with(' ') {
            flush(&mut current, version.take(), commit.take());
            let header = raw.trim_end().trim_end_matches(':');
            if header.trim_matches('"') == "__metadata" {
                continue;
            }
            let first = header.split(", ").next().unwrap_or(header);
            current = Some((i + 1, yarn_name(first).to_owned()));
            continue;
        }
        let line = raw.trim();
        if let Some(v) = line
            .strip_prefix("version")
            .filter(|r| r.starts_with([' ', ':']))
        {
            version = Some(
                v.trim_start_matches(':')
                    .trim()
                    .trim_matches('"')
                    .to_owned(),
            );
        } else if let Some(r) = line
            .strip_prefix("resolved")
            .filter(|r| r.starts_with([' ', ':']))
        {
            commit = git_commit(r.trim_start_matches(':').trim().trim_matches('"'));
        }
    }
    flush(&mut current, version.take(), commit.take());
    Ok(out)
}
