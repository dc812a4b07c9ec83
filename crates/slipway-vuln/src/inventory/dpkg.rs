//! dpkg `status` / `status.d/*` (and opkg, same format): RFC 822 paragraphs.

use std::path::Path;

use super::{InventoryError, OsRelease, Package};

/// Options for dpkg extraction.
#[derive(Debug, Clone, Copy, Default)]
pub struct DpkgOptions {
    /// Also report packages whose Status is not `installed`.
    pub include_not_installed: bool,
}

/// Packages of a dpkg status file. Entries without `Package:` or `Version:` are
/// skipped; `Source: name (version)` gives the OSV lookup name and version.
///
/// # Errors
/// When a paragraph is not `Field: value` syntax.
pub fn parse_dpkg_status(
    path: &Path,
    text: &str,
    os: Option<&OsRelease>,
    options: DpkgOptions,
) -> Result<Vec<Package>, InventoryError> {
    // `status.d/<pkg>.md5sums` files sit next to the status entries but are checksums.
    if path.extension().is_some_and(|e| e == "md5sums") {
        return Ok(Vec::new());
    }
    let in_status_d = path.parent().is_some_and(|d| d.ends_with("status.d"));
    let ecosystem = os.map_or_else(|| "Debian".to_owned(), |o| o.osv_ecosystem("Debian"));
    let mut out = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut start = 1;
    let lines: Vec<&str> = text.lines().collect();
    for i in 0..=lines.len() {
        let line = lines.get(i).copied();
        if line.is_none_or(|l| l.trim().is_empty()) {
            if !fields.is_empty() {
                if let Some(p) =
                    paragraph(path, &fields, start, &ecosystem, os, options, in_status_d)
                {
                    out.push(p);
                }
                fields.clear();
            }
            start = i + 2;
            continue;
        }
        let l = line.unwrap_or_default();
        if l.starts_with([' ', '\t'])
            && let Some(last) = fields.last_mut()
        {
            last.1.push('\n');
            last.1.push_str(l.trim());
            continue;
        }
        let Some((k, v)) = l.split_once(':') else {
            return Err(InventoryError::malformed(
                path,
                i + 1,
                "expected `Field: value`",
            ));
        };
        if k.contains(' ') {
            return Err(InventoryError::malformed(
                path,
                i + 1,
                "expected `Field: value`",
            ));
        }
        fields.push((k.to_owned(), v.trim().to_owned()));
    }
    Ok(out)
}

fn paragraph(
    path: &Path,
    fields: &[(String, String)],
    line: usize,
    ecosystem: &str,
    os: Option<&OsRelease>,
    options: DpkgOptions,
    in_status_d: bool,
) -> Option<Package> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let name = get("Package").filter(|s| !s.is_empty())?;
    let version = get("Version").filter(|s| !s.is_empty())?;
    let status = get("Status");
    // In the main status file every entry has a Status; status.d entries (distroless) have none.
    if status.is_none() && !in_status_d && !options.include_not_installed {
        return None;
    }
    if let Some(s) = status
        && !options.include_not_installed
        && s.split_whitespace().last() != Some("installed")
    {
        return None;
    }
    let mut p = Package::new(name, version, ecosystem, path);
    p.line = Some(line);
    p.status = status.map(str::to_owned);
    p.architecture = get("Architecture").map(str::to_owned);
    if let Some(src) = get("Source") {
        let (sname, sver) = match src.split_once('(') {
            Some((n, v)) => (n.trim(), Some(v.trim_end_matches(')').trim())),
            None => (src.trim(), None),
        };
        p.source_name = Some(sname.to_owned());
        p.source_version = sver.map(str::to_owned);
    }
    let description = get("Description").unwrap_or("").to_ascii_lowercase();
    p.component_not_present = description.contains("transitional") || description.contains("dummy");
    let distro = match os.map(|o| o.id.as_str()) {
        Some("ubuntu") => "ubuntu",
        _ => "debian",
    };
    p.purl = format!("pkg:deb/{distro}/{name}@{version}");
    if let Some(a) = &p.architecture {
        p.purl.push_str(&format!("?arch={a}"));
    }
    p.os = os.cloned();
    Some(p)
}
