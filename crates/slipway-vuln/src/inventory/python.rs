//! Python: requirements.txt, poetry.lock, Pipfile.lock.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::rust::{package_name_lines, parse_toml};
use super::{InventoryError, Package, purl, read_text};

fn pypi(name: &str, version: &str, path: &Path) -> Package {
    let mut p = Package::new(name, version, "PyPI", path);
    p.purl = purl("pypi", &crate::osv::normalize_pypi_name(name), version);
    p
}

/// Packages of a requirements file, following `-r` includes (each file once).
///
/// A version is taken from a single `==`, `===`, `>=`, `<=` or `~=` specifier
/// without wildcards (as osv-scalibr does); other requirements are listed with
/// an empty version ("not assessed"). Lines that are not requirements
/// (options, paths, URLs, environment variables) are skipped.
///
/// # Errors
/// When the top-level file cannot be read.
pub fn parse_requirements(path: &Path) -> Result<Vec<Package>, InventoryError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    parse_requirements_rec(path, &mut seen, &mut out, true)?;
    Ok(out)
}

fn parse_requirements_rec(
    path: &Path,
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<Package>,
    top: bool,
) -> Result<(), InventoryError> {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    if !seen.insert(canonical) {
        return Ok(());
    }
    let text = match read_text(path) {
        Ok(t) => t,
        Err(e) if top => return Err(e),
        Err(_) => return Ok(()),
    };
    // Join backslash continuations, remembering the first line of each logical line.
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        if let Some(stripped) = raw.strip_suffix('\\') {
            acc.push_str(stripped);
            pending = Some((start, acc));
        } else {
            acc.push_str(raw);
            logical.push((start, acc));
        }
    }
    if let Some(p) = pending {
        logical.push(p);
    }
    for (line_no, raw) in logical {
        let line = match raw
            .find(" #")
            .or_else(|| raw.trim_start().starts_with('#').then_some(0))
        {
            Some(i) => &raw[..i],
            None => raw.as_str(),
        };
        // Per-requirement options (`--hash=...`) follow the specifier.
        let line = line.split(" --").next().unwrap_or(line).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line
            .strip_prefix("-r")
            .or_else(|| line.strip_prefix("--requirement"))
        {
            let target = rest.trim_start_matches('=').trim();
            let base = path.parent().unwrap_or(Path::new("."));
            let mut included = Vec::new();
            parse_requirements_rec(&base.join(target), seen, &mut included, false)?;
            for mut p in included {
                if p.source_file != path.display().to_string() {
                    p.line = None;
                }
                out.push(p);
            }
            continue;
        }
        if line.starts_with('-')
            || line.contains("${")
            || line.contains("://")
            || line.starts_with('.')
            || line.starts_with('/')
        {
            continue;
        }
        let req = line.split(';').next().unwrap_or("").trim();
        let name_end = req
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(req.len());
        let name = &req[..name_end];
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            continue;
        }
        let mut rest = req[name_end..].trim();
        if rest.starts_with('[') {
            match rest.find(']') {
                Some(i) => rest = rest[i + 1..].trim(),
                None => continue,
            }
        }
        if rest.starts_with('@') {
            continue;
        }
        let version = if rest.is_empty() {
            String::new()
        } else {
            let specs: Vec<&str> = rest.split(',').map(str::trim).collect();
            let ops = ["===", "==", ">=", "<=", "~=", "!=", ">", "<"];
            let Some(op) = ops.iter().find(|op| specs[0].starts_with(**op)) else {
                continue;
            };
            let v = specs[0][op.len()..].trim();
            if v.is_empty() || v.contains(' ') {
                continue;
            }
            let pins = ["===", "==", ">=", "<=", "~="];
            if specs.len() == 1 && pins.contains(op) && !v.contains('*') {
                v.to_owned()
            } else {
                String::new()
            }
        };
        let mut p = pypi(name, &version, path);
        p.line = Some(line_no);
        p.requirement = Some(line.to_owned());
        out.push(p);
    }
    Ok(())
}

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<PoetryPackage>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    source: Option<PoetrySource>,
}

#[derive(Deserialize)]
struct PoetrySource {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    resolved_reference: Option<String>,
}

/// Packages of a poetry.lock.
///
/// # Errors
/// When the file is not TOML.
pub fn parse_poetry_lock(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    let lock: PoetryLock = parse_toml(path, text)?;
    let lines = package_name_lines(text);
    Ok(lock
        .package
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut pkg = pypi(&p.name, &p.version, path);
            pkg.line = lines.get(i).copied();
            if p.optional {
                pkg.dep_groups.push("optional".to_owned());
            }
            if let Some(s) = p.source
                && s.kind == "git"
            {
                pkg.commit = s.resolved_reference;
            }
            pkg
        })
        .collect())
}

/// Packages of a Pipfile.lock (`default` and `develop` sections, `==` pins).
///
/// # Errors
/// When the file is not JSON.
pub fn parse_pipfile_lock(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| InventoryError::malformed(path, e.line(), e.to_string()))?;
    let mut out = Vec::new();
    for (section, group) in [("default", None), ("develop", Some("dev"))] {
        let Some(map) = v.get(section).and_then(|s| s.as_object()) else {
            continue;
        };
        for (name, entry) in map {
            let version = entry
                .get("version")
                .and_then(|v| v.as_str())
                .and_then(|v| v.strip_prefix("=="))
                .unwrap_or("");
            let mut p = pypi(name, version, path);
            if let Some(g) = group {
                p.dep_groups.push(g.to_owned());
            }
            out.push(p);
        }
    }
    Ok(out)
}
