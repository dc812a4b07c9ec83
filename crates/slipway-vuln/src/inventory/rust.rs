//! Cargo.lock.

use std::path::Path;

use serde::Deserialize;

use super::{InventoryError, Package, purl};

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPackage>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: String,
    #[serde(default)]
    version: String,
}

/// Parse TOML, turning a syntax error into a located [`InventoryError`].
pub(super) fn parse_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, InventoryError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        });
        InventoryError::malformed(path, line, e.message().to_owned())
    })
}

/// 1-based lines of the `name =` key of each `[[package]]` table, in order;
/// multi-line strings and other tables are skipped so look-alike lines inside
/// them do not count.
pub(super) fn package_name_lines(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut in_package = false;
    let mut seen_name = false;
    let mut in_multiline: Option<&str> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(delim) = in_multiline {
            if line.contains(delim) {
                in_multiline = None;
            }
            continue;
        }
        if line.starts_with('[') {
            in_package = line.replace(' ', "") == "[[package]]";
            seen_name = false;
            continue;
        }
        for delim in ["\"\"\"", "'''"] {
            if line.matches(delim).count() % 2 == 1 {
                in_multiline = Some(delim);
            }
        }
        if in_package && !seen_name {
            let key = line.split('=').next().unwrap_or("").trim();
            if line.contains('=') && (key == "name" || key == "\"name\"") {
                out.push(i + 1);
                seen_name = true;
            }
        }
    }
    out
}

/// Packages of a Cargo.lock (build metadata kept in the version).
///
/// # Errors
/// When the file is not TOML.
pub fn parse_cargo_lock(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    let lock: Lock = parse_toml(path, text)?;
    let lines = package_name_lines(text);
    Ok(lock
        .package
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut pkg = Package::new(&p.name, &p.version, "crates.io", path);
            pkg.purl = purl("cargo", &p.name, &p.version);
            pkg.line = lines.get(i).copied();
            pkg
        })
        .collect())
}
