//! Ruby (Gemfile.lock) and PHP (composer.lock).

use std::path::Path;

use serde_json::Value;

use super::{InventoryError, Package, purl};

/// Gems of a Gemfile.lock: the `specs:` entries (4-space indent) of every
/// `GEM`, `GIT` and `PATH` section.
///
/// # Errors
/// Never for well-formed text; a spec line without `(version)` is reported.
pub fn parse_gemfile_lock(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    let mut out = Vec::new();
    let mut section = "";
    let mut revision: Option<String> = None;
    let mut in_specs = false;
    for (i, raw) in text.lines().enumerate() {
        if !raw.starts_with(' ') && !raw.trim().is_empty() {
            section = raw.trim();
            in_specs = false;
            revision = None;
            continue;
        }
        let line = raw.trim_end();
        if !matches!(section, "GEM" | "GIT" | "PATH" | "PLUGIN SOURCE") {
            continue;
        }
        if let Some(r) = line.trim().strip_prefix("revision: ") {
            revision = Some(r.to_owned());
        }
        if line.trim() == "specs:" {
            in_specs = true;
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if !in_specs || indent != 4 {
            continue;
        }
        let spec = line.trim();
        let Some((name, rest)) = spec.split_once(" (") else {
            return Err(InventoryError::malformed(
                path,
                i + 1,
                "gem spec without `(version)`",
            ));
        };
        let version = rest.trim_end_matches(')');
        // A platform suffix (`1.2.3-x86_64-linux`) is not part of the version.
        let version = version.split('-').next().unwrap_or(version);
        let mut p = Package::new(name, version, "RubyGems", path);
        p.purl = purl("gem", name, version);
        p.line = Some(i + 1);
        p.commit = revision.clone();
        out.push(p);
    }
    Ok(out)
}

/// Packages of a composer.lock (`packages` and, as `dev`, `packages-dev`).
///
/// # Errors
/// When the file is not JSON.
pub fn parse_composer_lock(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| InventoryError::malformed(path, e.line(), e.to_string()))?;
    let mut out = Vec::new();
    for (key, dev) in [("packages", false), ("packages-dev", true)] {
        for entry in v.get(key).and_then(Value::as_array).into_iter().flatten() {
            let Some(name) = entry.get("name").and_then(Value::as_str) else {
                continue;
            };
            let version = entry.get("version").and_then(Value::as_str).unwrap_or("");
            let version = version.strip_prefix('v').unwrap_or(version);
            let mut p = Package::new(name, version, "Packagist", path);
            p.purl = purl("composer", name, version);
            p.commit = entry
                .pointer("/source/reference")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if dev {
                p.dep_groups.push("dev".to_owned());
            }
            out.push(p);
        }
    }
    Ok(out)
}
