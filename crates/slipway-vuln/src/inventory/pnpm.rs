//! pnpm: `pnpm-lock.yaml`, lockfile versions 5.x (`/name/1.0.0_peer`), 6.x
//! (`/name@1.0.0(peer@2.0.0)`) and 9.x (`name@1.0.0`, peers in `snapshots`).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::{InventoryError, Package, purl};

/// Split a `packages` key into (name, version); `None` for keys that carry no
/// registry version (their entry's `name`/`version` fields are used instead).
fn split_key(key: &str, v5: bool) -> Option<(String, String)> {
    let key = key.trim_start_matches('/');
    // Peer-dependency suffixes: `(peer@1)` (v6+) and `_peer@1` (v5).
    let key = key.split('(').next().unwrap_or(key);
    if v5 {
        let (name, version) = key.rsplit_once('/')?;
        let version = version.split('_').next().unwrap_or(version);
        return Some((name.to_owned(), version.to_owned()));
    }
    let at = key.get(1..)?.find('@')? + 1;
    Some((key[..at].to_owned(), key[at + 1..].to_owned()))
}

/// 1-based line of each top-level key under `packages:`.
fn key_lines(text: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    let mut in_packages = false;
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_packages = line.trim_end() == "packages:";
            continue;
        }
        if in_packages && line.starts_with("  ") && !line.starts_with("   ") {
            let key = line
                .trim()
                .trim_end_matches(':')
                .trim_matches(|c| c == '\'' || c == '"');
            out.insert(key.to_owned(), i + 1);
        }
    }
    out
}

/// Packages of a pnpm-lock.yaml.
///
/// # Errors
/// When the file is not YAML or `packages` is not a mapping.
pub fn parse_pnpm_lock(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| {
        let line = e
            .location()
            .map_or(0, |l| usize::try_from(l.line()).unwrap_or(0));
        InventoryError::malformed(path, line, e.to_string())
    })?;
    let version = match doc.get("lockfileVersion") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let v5 = version.starts_with('5') || version.starts_with('4') || version.starts_with('3');
    let lines = key_lines(text);
    let mut out = Vec::new();
    let Some(packages) = doc.get("packages") else {
        return Ok(out);
    };
    let packages = packages
        .as_object()
        .ok_or_else(|| InventoryError::malformed(path, 0, "`packages` is not a mapping"))?;
    for (key, entry) in packages {
        let field = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
        let from_key = split_key(key, v5);
        let name = field("name").or_else(|| from_key.as_ref().map(|(n, _)| n.clone()));
        let Some(name) = name else { continue };
        let commit = entry
            .pointer("/resolution/commit")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let version = field("version")
            .or_else(|| from_key.map(|(_, v)| v))
            .unwrap_or_default();
        // Git and tarball dependencies have no registry version.
        let version = if commit.is_some() || version.contains("://") || version.contains(':') {
            String::new()
        } else {
            version
        };
        let mut p = Package::new(&name, &version, "npm", path);
        p.purl = purl("npm", &name, &version);
        p.line = lines.get(key.as_str()).copied();
        p.commit = commit;
        if entry.get("dev").and_then(Value::as_bool) == Some(true) {
            p.dep_groups.push("dev".to_owned());
        }
        if entry.get("optional").and_then(Value::as_bool) == Some(true) {
            p.dep_groups.push("optional".to_owned());
        }
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, String, Option<usize>)> {
        let mut v: Vec<_> = parse_pnpm_lock(Path::new("pnpm-lock.yaml"), text)
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.version, p.line))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn v5_keys_with_peer_suffixes() {
        let text = "lockfileVersion: 5.4\n\npackages:\n\n  /acorn/8.7.0:\n    resolution: {integrity: sha512-x}\n    dev: true\n\n  /@babel/core/7.1.0_eslint@8.0.0:\n    resolution: {integrity: sha512-y}\n";
        assert_eq!(
            names(text),
            [
                ("@babel/core".into(), "7.1.0".into(), Some(9)),
                ("acorn".into(), "8.7.0".into(), Some(5)),
            ]
        );
    }

    #[test]
    fn v6_and_v9_keys() {
        let v6 = "lockfileVersion: '6.0'\npackages:\n  /@types/node@20.1.0:\n    resolution: {integrity: x}\n  /react-dom@18.2.0(react@18.2.0):\n    resolution: {integrity: y}\n";
        assert_eq!(
            names(v6),
            [
                ("@types/node".into(), "20.1.0".into(), Some(3)),
                ("react-dom".into(), "18.2.0".into(), Some(5)),
            ]
        );
        let v9 = "lockfileVersion: '9.0'\npackages:\n  '@scope/a@1.0.0':\n    resolution: {integrity: x}\n  b@2.0.0:\n    resolution: {integrity: y}\n  c@https://codeload.github.com/u/c/tar.gz/abc:\n    resolution: {tarball: https://codeload.github.com/u/c/tar.gz/abc}\n    version: 0.1.0\n";
        let got = names(v9);
        assert_eq!(got[0], ("@scope/a".into(), "1.0.0".into(), Some(3)));
        assert_eq!(got[1], ("b".into(), "2.0.0".into(), Some(5)));
        assert_eq!(got[2], ("c".into(), "0.1.0".into(), Some(7)));
    }

    #[test]
    fn git_dependency_has_commit_and_no_version() {
        let text = "lockfileVersion: '6.0'\npackages:\n  github.com/u/repo/abc123:\n    resolution: {commit: abc123, repo: https://github.com/u/repo, type: git}\n    name: repo\n    version: 1.0.0\n";
        let p = &parse_pnpm_lock(Path::new("p"), text).unwrap()[0];
        assert_eq!((p.name.as_str(), p.version.as_str()), ("repo", ""));
        assert_eq!(p.commit.as_deref(), Some("abc123"));
    }

    #[test]
    fn malformed_yaml_names_the_line() {
        let err = parse_pnpm_lock(
            Path::new("pnpm-lock.yaml"),
            "lockfileVersion: '6.0'\npackages:\n  /a@1.0.0:\n    resolution: [unclosed\n",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("pnpm-lock.yaml:"), "{msg}");
        assert!(!msg.starts_with("pnpm-lock.yaml:0:"), "{msg}");
    }
}
