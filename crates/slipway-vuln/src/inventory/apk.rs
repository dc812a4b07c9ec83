//! apk `lib/apk/db/installed`: blocks of `X:value` lines.

use std::path::Path;

use super::{InventoryError, OsRelease, Package};

/// Packages of an apk installed database; the origin (`o:`) is the OSV lookup name.
///
/// # Errors
/// When a line is not `X:value`.
pub fn parse_apk_installed(
    path: &Path,
    text: &str,
    os: Option<&OsRelease>,
) -> Result<Vec<Package>, InventoryError> {
    let ecosystem = os.map_or_else(|| "Alpine".to_owned(), |o| o.osv_ecosystem("Alpine"));
    let mut out = Vec::new();
    let mut cur: Vec<(char, String)> = Vec::new();
    let mut start = 1;
    let lines: Vec<&str> = text.lines().collect();
    for i in 0..=lines.len() {
        let line = lines.get(i).map(|l| l.trim_end());
        if line.is_none_or(str::is_empty) {
            if !cur.is_empty() {
                let get = |k: char| cur.iter().find(|(f, _)| *f == k).map(|(_, v)| v.clone());
                if let (Some(name), Some(version)) = (get('P'), get('V')) {
                    let mut p = Package::new(&name, &version, &ecosystem, path);
                    p.line = Some(start);
                    p.source_name = get('o');
                    p.architecture = get('A');
                    p.purl = format!("pkg:apk/alpine/{name}@{version}");
                    p.os = os.cloned();
                    out.push(p);
                }
                cur.clear();
            }
            start = i + 2;
            continue;
        }
        let l = line.unwrap_or_default();
        let mut chars = l.chars();
        match (chars.next(), chars.next()) {
            (Some(k), Some(':')) => cur.push((k, l[k.len_utf8() + 1..].to_owned())),
            _ => return Err(InventoryError::malformed(path, i + 1, "expected `X:value`")),
        }
    }
    Ok(out)
}
