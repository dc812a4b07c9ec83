//! SBOM input: CycloneDX (JSON and XML) and SPDX JSON, read through purls.

use std::path::Path;

use serde_json::Value;

use super::{InventoryError, Package};

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A package from a purl, with the ecosystem and lookup names OSV uses.
/// `None` for purl types without an OSV ecosystem.
pub fn package_from_purl(purl: &str, path: &Path) -> Option<Package> {
    let rest = purl.trim().strip_prefix("pkg:")?;
    let (rest, _subpath) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, qualifiers) = rest.split_once('?').unwrap_or((rest, ""));
    let (rest, version) = match rest.rsplit_once('@') {
        Some((r, v)) if !r.is_empty() && !r.ends_with('/') => (r, percent_decode(v)),
        _ => (rest, String::new()),
    };
    let mut segs = rest.split('/');
    let kind = segs.next()?.to_ascii_lowercase();
    let segs: Vec<String> = segs.map(percent_decode).collect();
    let (namespace, name) = match segs.split_last() {
        Some((n, ns)) => (ns.join("/"), n.clone()),
        None => return None,
    };
    let qual = |k: &str| {
        qualifiers
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(key, _)| *key == k)
            .map(|(_, v)| percent_decode(v))
    };
    let joined = |sep: &str| {
        if namespace.is_empty() {
            name.clone()
        } else {
            format!("{namespace}{sep}{name}")
        }
    };
    let mut source = None;
    let (ecosystem, pkg_name, version) = match kind.as_str() {
        "deb" => {
            let distro = qual("distro").unwrap_or_default();
            let os = if let Some(v) = distro.strip_prefix("debian-") {
                super::OsRelease {
                    id: "debian".to_owned(),
                    version_id: v.to_owned(),
                    ..Default::default()
                }
            } else if let Some(v) = distro.strip_prefix("ubuntu-") {
                super::OsRelease {
                    id: "ubuntu".to_owned(),
                    version_id: v.to_owned(),
                    ..Default::default()
                }
            } else {
                super::OsRelease::default()
            };
            let base = if namespace == "ubuntu" {
                "Ubuntu"
            } else {
                "Debian"
            };
            source = qual("upstream");
            (os.osv_ecosystem(base), name.clone(), version)
        }
        "apk" => {
            let distro = qual("distro").unwrap_or_default();
            let os = super::OsRelease {
                id: "alpine".to_owned(),
                version_id: distro.strip_prefix("alpine-").unwrap_or("").to_owned(),
                ..Default::default()
            };
            source = qual("upstream");
            (os.osv_ecosystem("Alpine"), name.clone(), version)
        }
        "pypi" => ("PyPI".to_owned(), name.clone(), version),
        "npm" => ("npm".to_owned(), joined("/"), version),
        "cargo" => ("crates.io".to_owned(), name.clone(), version),
        // The `v` stays: it is how Go spells the version; matching drops it.
        "golang" => ("Go".to_owned(), joined("/"), version),
        "maven" => ("Maven".to_owned(), joined(":"), version),
        "gem" => ("RubyGems".to_owned(), name.clone(), version),
        "composer" => ("Packagist".to_owned(), joined("/"), version),
        "nuget" => ("NuGet".to_owned(), name.clone(), version),
        "hex" => ("Hex".to_owned(), name.clone(), version),
        "pub" => ("Pub".to_owned(), name.clone(), version),
        _ => return None,
    };
    let mut p = Package::new(&pkg_name, &version, &ecosystem, path);
    p.purl = purl.trim().to_owned();
    if let Some(src) = source {
        match src.split_once('@') {
            Some((n, v)) => {
                p.source_name = Some(n.to_owned());
                p.source_version = Some(v.to_owned());
            }
            None => p.source_name = Some(src),
        }
    }
    Some(p)
}

/// A BOM component: through its purl when OSV knows the type, else kept with
/// no ecosystem so the report can say it was not assessed.
fn component(
    path: &Path,
    purl: Option<&str>,
    name: Option<&str>,
    version: Option<&str>,
) -> Option<Package> {
    if let Some(p) = purl.and_then(|u| package_from_purl(u, path)) {
        return Some(p);
    }
    let name = name?;
    let mut p = Package::new(name, version.unwrap_or(""), "", path);
    p.purl = purl.unwrap_or("").to_owned();
    Some(p)
}

fn json_err(path: &Path, e: &serde_json::Error) -> InventoryError {
    InventoryError::malformed(path, e.line(), e.to_string())
}

/// Packages of a CycloneDX JSON BOM (nested components included).
///
/// # Errors
/// When the file is not JSON.
pub fn parse_cyclonedx_json(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    let v: Value = serde_json::from_str(text).map_err(|e| json_err(path, &e))?;
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = v
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    while let Some(c) = stack.pop() {
        if let Some(p) = c
            .get("purl")
            .and_then(Value::as_str)
            .and_then(|u| package_from_purl(u, path))
        {
            out.push(p);
        }
        stack.extend(
            c.get("components")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    }
    Ok(out)
}

/// Packages of a CycloneDX XML BOM (components under `<components>`, nested too).
///
/// # Errors
/// When the file is not well-formed XML.
pub fn parse_cyclonedx_xml(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    let doc = roxmltree::Document::parse(text)
        .map_err(|e| InventoryError::malformed(path, e.pos().row as usize, e.to_string()))?;
    let mut out = Vec::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("component")) {
        // Only library/application components listed in the BOM body, not the
        // metadata's description of the scanned subject.
        if node.ancestors().any(|a| a.has_tag_name("metadata")) {
            continue;
        }
        if node.attribute("type") == Some("operating-system") {
            continue;
        }
        let child = |tag: &str| {
            node.children()
                .find(|c| c.has_tag_name(tag))
                .and_then(|c| c.text())
        };
        out.extend(component(
            path,
            child("purl"),
            child("name"),
            child("version"),
        ));
    }
    Ok(out)
}

/// Packages of an SPDX JSON document (purls from `externalRefs`).
///
/// # Errors
/// When the file is not JSON.
pub fn parse_spdx_json(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    let v: Value = serde_json::from_str(text).map_err(|e| json_err(path, &e))?;
    let mut out = Vec::new();
    for pkg in v
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for r in pkg
            .get("externalRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if r.get("referenceType").and_then(Value::as_str) == Some("purl")
                && let Some(p) = r
                    .get("referenceLocator")
                    .and_then(Value::as_str)
                    .and_then(|u| package_from_purl(u, path))
            {
                out.push(p);
            }
        }
    }
    Ok(out)
}
