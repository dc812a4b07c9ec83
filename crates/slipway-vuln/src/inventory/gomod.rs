//! go.mod (with go.sum for modules before Go 1.17, whose go.mod lists only direct deps).

use std::collections::BTreeMap;
use std::path::Path;

use super::{InventoryError, Package, purl, read_text};

fn go_pkg(name: &str, version: &str, path: &Path, line: Option<usize>) -> Package {
    let version = version.strip_prefix('v').unwrap_or(version);
    let mut p = Package::new(name, version, "Go", path);
    p.purl = purl("golang", name, version);
    p.line = line;
    p
}

/// Packages of a go.mod: `require` entries with `replace` applied, plus `stdlib`
/// from the `toolchain` (else `go`) directive.
///
/// # Errors
/// When a line is not go.mod syntax.
pub fn parse_go_mod(path: &Path, text: &str) -> Result<Vec<Package>, InventoryError> {
    struct Req {
        name: String,
        version: String,
        line: usize,
    }
    let mut requires: Vec<Req> = Vec::new();
    let mut replaces: Vec<(String, Option<String>, String, String, usize)> = Vec::new();
    let mut go_version: Option<(String, usize)> = None;
    let mut toolchain: Option<(String, usize)> = None;
    let mut block: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (directive, rest) = match &block {
            Some(b) if line == ")" => {
                let _ = b;
                block = None;
                continue;
            }
            Some(b) => (b.clone(), line.to_owned()),
            None => {
                let (d, r) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                let r = r.trim();
                if r == "(" {
                    block = Some(d.to_owned());
                    continue;
                }
                (d.to_owned(), r.to_owned())
            }
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        match directive.as_str() {
            "module" | "exclude" | "retract" | "godebug" | "tool" | "ignore" => {}
            "go" => go_version = fields.first().map(|v| ((*v).to_owned(), i + 1)),
            "toolchain" => toolchain = fields.first().map(|v| ((*v).to_owned(), i + 1)),
            "require" => {
                let [name, version, ..] = fields.as_slice() else {
                    return Err(InventoryError::malformed(
                        path,
                        i + 1,
                        "require needs a module path and a version",
                    ));
                };
                requires.push(Req {
                    name: (*name).to_owned(),
                    version: (*version).to_owned(),
                    line: i + 1,
                });
            }
            "replace" => {
                let Some(arrow) = fields.iter().position(|f| *f == "=>") else {
                    return Err(InventoryError::malformed(path, i + 1, "replace needs `=>`"));
                };
                let (old, new) = (&fields[..arrow], &fields[arrow + 1..]);
                let (Some(old_name), Some(new_name)) = (old.first(), new.first()) else {
                    return Err(InventoryError::malformed(
                        path,
                        i + 1,
                        "replace needs module paths",
                    ));
                };
                replaces.push((
                    (*old_name).to_owned(),
                    old.get(1).map(|v| (*v).to_owned()),
                    (*new_name).to_owned(),
                    new.get(1).map(|v| (*v).to_owned()).unwrap_or_default(),
                    i + 1,
                ));
            }
            other => {
                return Err(InventoryError::malformed(
                    path,
                    i + 1,
                    format!("unknown go.mod directive `{other}`"),
                ));
            }
        }
    }
    let mut out = Vec::new();
    for r in &requires {
        let rep = replaces
            .iter()
            .find(|(old, ov, ..)| *old == r.name && ov.as_ref().is_none_or(|v| *v == r.version));
        match rep {
            Some((_, _, new, nv, line)) => out.push(go_pkg(new, nv, path, Some(*line))),
            None => out.push(go_pkg(&r.name, &r.version, path, Some(r.line))),
        }
    }
    // Before Go 1.17 go.mod omits indirect dependencies; go.sum has them.
    let old_go = go_version.as_ref().is_some_and(|(v, _)| {
        let mut it = v.split('.');
        let major: u32 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        let minor: u32 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        (major, minor) <= (1, 16)
    });
    if old_go {
        let sum = path.with_extension("sum");
        if let Ok(sum_text) = read_text(&sum) {
            // Lines ending in `/go.mod` only pin a go.mod for graph pruning; the
            // others are module contents that were actually downloaded.
            let mut seen: BTreeMap<(String, String), ()> = BTreeMap::new();
            for (i, l) in sum_text.lines().enumerate() {
                let f: Vec<&str> = l.split_whitespace().collect();
                let [name, version, ..] = f.as_slice() else {
                    continue;
                };
                if version.ends_with("/go.mod") {
                    continue;
                }
                if requires.iter().any(|r| r.name == *name) || replaces.iter().any(|r| r.0 == *name)
                {
                    continue;
                }
                if seen
                    .insert(((*name).to_owned(), (*version).to_owned()), ())
                    .is_none()
                {
                    let mut p = go_pkg(name, version, path, Some(i + 1));
                    p.source_file = sum.display().to_string();
                    out.push(p);
                }
            }
        }
    }
    let stdlib = toolchain
        .map(|(v, l)| {
            (
                v.trim_start_matches("go")
                    .split('-')
                    .next()
                    .unwrap_or("")
                    .to_owned(),
                l,
            )
        })
        .or(go_version);
    if let Some((v, line)) = stdlib {
        out.push(go_pkg("stdlib", &v, path, Some(line)));
    }
    // A version-less replace can map several requires to the same module.
    let mut unique: Vec<Package> = Vec::new();
    for p in out {
        if !unique
            .iter()
            .any(|q| q.name == p.name && q.version == p.version)
        {
            unique.push(p);
        }
    }
    Ok(unique)
}
