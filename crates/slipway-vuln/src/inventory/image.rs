//! Inventory of an OCI image layout directory: `index.json` -> manifest ->
//! layers (tar, gzip-compressed or not), applied in order with whiteouts
//! (`.wh.NAME` deletes, `.wh..wh..opq` hides the lower layers' directory
//! content), keeping only the files an extractor understands (package
//! databases, lockfiles, SBOMs) and `os-release`.
//!
//! The kept files are written to a private temporary root filesystem and
//! inventoried like a directory, so images and directories share every
//! extractor; reported paths are the paths inside the image.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Inventory, InventoryError, MAX_FILE_BYTES, kind_of, scan_path};

/// Whether `dir` looks like an OCI image layout.
pub fn is_oci_layout(dir: &Path) -> bool {
    dir.join("index.json").is_file()
        && (dir.join("oci-layout").is_file() || dir.join("blobs").is_dir())
}

fn malformed(path: &Path, message: impl Into<String>) -> InventoryError {
    InventoryError::malformed(path, 0, message)
}

fn read_json(path: &Path) -> Result<Value, InventoryError> {
    let text = super::read_text(path)?;
    serde_json::from_str(&text)
        .map_err(|e| InventoryError::malformed(path, e.line(), e.to_string()))
}

fn blob_path(layout: &Path, digest: &str, from: &Path) -> Result<PathBuf, InventoryError> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| malformed(from, format!("digest `{digest}` has no algorithm")))?;
    let safe = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !safe(alg) || !safe(hex) {
        return Err(malformed(
            from,
            format!("digest `{digest}` is not a valid digest"),
        ));
    }
    Ok(layout.join("blobs").join(alg).join(hex))
}

/// The image manifest a layout's `index.json` points at: the first image
/// manifest, descending into nested indexes (preferring linux/amd64).
fn find_manifest(
    layout: &Path,
    index_path: &Path,
    depth: usize,
) -> Result<(PathBuf, Value), InventoryError> {
    if depth > 4 {
        return Err(malformed(index_path, "image indexes nested too deeply"));
    }
    let index = read_json(index_path)?;
    let manifests = index
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(index_path, "no `manifests` array"))?;
    let platform_rank = |m: &Value| {
        let os = m.pointer("/platform/os").and_then(Value::as_str);
        let arch = m.pointer("/platform/architecture").and_then(Value::as_str);
        match (os, arch) {
            (Some("linux"), Some("amd64")) | (None, None) => 0,
            (Some("linux"), _) => 1,
            _ => 2,
        }
    };
    let mut candidates: Vec<&Value> = manifests.iter().collect();
    candidates.sort_by_key(|m| platform_rank(m));
    let first = candidates
        .first()
        .ok_or_else(|| malformed(index_path, "`manifests` is empty"))?;
    let digest = first
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(index_path, "manifest entry without `digest`"))?;
    let path = blob_path(layout, digest, index_path)?;
    let doc = read_json(&path)?;
    let media = doc
        .get("mediaType")
        .and_then(Value::as_str)
        .or_else(|| first.get("mediaType").and_then(Value::as_str))
        .unwrap_or("");
    if media.contains("index") || media.contains("manifest.list") || doc.get("manifests").is_some()
    {
        return find_manifest(layout, &path, depth + 1);
    }
    Ok((path, doc))
}

/// Files kept from the layers, by path inside the image (no leading `/`).
type Files = BTreeMap<String, Vec<u8>>;

fn wanted(path: &str) -> bool {
    matches!(path, "etc/os-release" | "usr/lib/os-release") || kind_of(Path::new(path)).is_some()
}

fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn remove_tree(files: &mut Files, path: &str) {
    files.remove(path);
    let prefix = format!("{path}/");
    files.retain(|k, _| !k.starts_with(&prefix));
}

/// Apply one layer (a tar stream) to `files`.
fn apply_layer(
    layer: impl Read,
    files: &mut Files,
    layer_path: &Path,
) -> Result<(), InventoryError> {
    let mut archive = tar::Archive::new(layer);
    let entries = archive
        .entries()
        .map_err(|e| malformed(layer_path, format!("not a tar layer: {e}")))?;
    let mut added: Files = BTreeMap::new();
    let mut deleted: Vec<String> = Vec::new();
    let mut opaque: Vec<String> = Vec::new();
    for entry in entries {
        let mut entry =
            entry.map_err(|e| malformed(layer_path, format!("damaged tar layer: {e}")))?;
        let raw = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = clean(&raw);
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (d.to_owned(), b),
            None => (String::new(), path.as_str()),
        };
        if base == ".wh..wh..opq" {
            opaque.push(dir);
            continue;
        }
        if let Some(name) = base.strip_prefix(".wh.") {
            deleted.push(if dir.is_empty() {
                name.to_owned()
            } else {
                format!("{dir}/{name}")
            });
            continue;
        }
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            // A directory or link replacing a kept file hides it.
            if files.contains_key(&path) {
                deleted.push(path);
            }
            continue;
        }
        if !wanted(&path) {
            continue;
        }
        let size = entry.header().size().unwrap_or(0);
        if size > MAX_FILE_BYTES {
            return Err(InventoryError::TooLarge {
                path: PathBuf::from(format!("{}!/{path}", layer_path.display())),
                size,
            });
        }
        let mut buf = Vec::new();
        (&mut entry)
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut buf)
            .map_err(|e| malformed(layer_path, format!("{path}: {e}")))?;
        added.insert(path, buf);
    }
    // Whiteouts hide lower layers only, so they apply before this layer's files.
    for d in opaque {
        if d.is_empty() {
            files.clear();
        } else {
            let prefix = format!("{d}/");
            files.retain(|k, _| !k.starts_with(&prefix));
        }
    }
    for d in deleted {
        remove_tree(files, &d);
    }
    files.extend(added);
    Ok(())
}

fn open_layer(path: &Path) -> Result<Box<dyn Read>, InventoryError> {
    let io = |source| InventoryError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(io)?;
    let file = std::fs::File::open(path).map_err(io)?;
    let reader = std::io::BufReader::new(file);
    match &magic[..n] {
        [0x1f, 0x8b, ..] => Ok(Box::new(flate2::read::GzDecoder::new(reader))),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            Err(malformed(path, "zstd-compressed layers are not supported"))
        }
        _ => Ok(Box::new(reader)),
    }
}

/// A temporary directory removed on drop.
struct TempRoot(PathBuf);

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_root() -> Result<TempRoot, InventoryError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "slipway-image-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs_err::create_dir_all(&dir).map_err(|source| InventoryError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(TempRoot(dir))
}

/// Inventory an OCI image layout directory.
///
/// # Errors
/// When the layout, its manifest or a layer cannot be read; files inside
/// that are malformed are listed in [`Inventory::skipped`] instead.
pub fn scan_oci_layout(layout: &Path) -> Result<Inventory, InventoryError> {
    let (manifest_path, manifest) = find_manifest(layout, &layout.join("index.json"), 0)?;
    let layers = manifest
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(&manifest_path, "image manifest without `layers`"))?;
    let mut files: Files = BTreeMap::new();
    for layer in layers {
        let digest = layer
            .get("digest")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(&manifest_path, "layer without `digest`"))?;
        let path = blob_path(layout, digest, &manifest_path)?;
        apply_layer(open_layer(&path)?, &mut files, &path)?;
    }
    let root = temp_root()?;
    for (path, bytes) in &files {
        let target = root.0.join(path);
        let write = target
            .parent()
            .map_or(Ok(()), fs_err::create_dir_all)
            .and_then(|()| fs_err::write(&target, bytes));
        write.map_err(|source| InventoryError::Io {
            path: target.clone(),
            source,
        })?;
    }
    let mut inv = scan_path(&root.0);
    let prefix = root.0.display().to_string();
    let rename = |s: &str| match s.strip_prefix(&prefix) {
        Some(rest) => rest.to_owned(),
        None => s.to_owned(),
    };
    for p in &mut inv.packages {
        p.source_file = rename(&p.source_file);
    }
    for e in &mut inv.skipped {
        let path = match e {
            InventoryError::Io { path, .. }
            | InventoryError::TooLarge { path, .. }
            | InventoryError::Malformed { path, .. } => path,
        };
        *path = PathBuf::from(rename(&path.display().to_string()));
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_hide_lower_layer_files() {
        let mut files = Files::new();
        let l1 = layer(&[
            ("app/package-lock.json", b"{}"),
            ("srv/Cargo.lock", b""),
            ("opt/x/go.mod", b""),
            ("etc/os-release", b"ID=debian"),
        ]);
        apply_layer(&l1[..], &mut files, Path::new("l1")).unwrap();
        assert_eq!(files.len(), 4);
        let l2 = layer(&[
            ("app/.wh.package-lock.json", b""),
            ("opt/x/.wh..wh..opq", b""),
            ("opt/x/yarn.lock", b""),
            ("README", b"ignored"),
        ]);
        apply_layer(&l2[..], &mut files, Path::new("l2")).unwrap();
        let keys: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["etc/os-release", "opt/x/yarn.lock", "srv/Cargo.lock"]
        );
    }
}
