//! Reproducible image builds from a directory: one gzip tar layer (entries sorted by path,
//! fixed mtimes, owner 0:0 without names, permission bits kept), an OCI config and manifest,
//! optionally on top of a base image. The same input gives the same digests.

mod gzip;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde_json::{Map, Value, json};
use sha2::Digest as _;
use thiserror::Error;

use crate::digest::Digest;
use crate::layout::{CONFIG_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use crate::store::{Platform, Progress, Store, StoreError};

pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_LAYER_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Build errors.
#[derive(Debug, Error)]
pub enum BuildError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: unsupported file type (only files, directories and symlinks go into a layer)")]
    FileType { path: PathBuf },
    #[error("{0} is not a directory")]
    NotDirectory(PathBuf),
    #[error("base image")]
    Base(#[source] StoreError),
    #[error("base image {reference} config is malformed: {reason}")]
    BaseConfig { reference: String, reason: String },
    #[error("writing the image")]
    Store(#[source] StoreError),
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub platform: Platform,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `KEY=VALUE`, replacing a base variable of the same name.
    pub env: Vec<(String, String)>,
    pub labels: BTreeMap<String, String>,
    pub workdir: Option<String>,
    /// Timestamp for file mtimes, `created` and history (Unix seconds; SOURCE_DATE_EPOCH).
    pub timestamp: i64,
    /// gzip level 0-9.
    pub compression: u32,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            platform: Platform {
                os: "linux".into(),
                architecture: "amd64".into(),
                variant: None,
            },
            entrypoint: None,
            cmd: None,
            env: Vec::new(),
            labels: BTreeMap::new(),
            workdir: None,
            timestamp: 0,
            compression: 1,
        }
    }
}

/// A built layer: compressed bytes, compressed digest, uncompressed digest (the diff id).
#[derive(Debug, Clone)]
pub struct Layer {
    pub data: Bytes,
    pub digest: Digest,
    pub diff_id: Digest,
    pub entries: usize,
    pub uncompressed_size: u64,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct Built {
    pub manifest_digest: Digest,
    pub manifest_size: u64,
    pub config_digest: Digest,
    pub layer: Layer,
    pub base_layers: usize,
}

/// A writer that hashes everything passing through it.
struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
    count: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: i64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(mtime.max(0) as u64);
    h.set_uid(0);
    h.set_gid(0);
    // Names stay empty: numeric owners only.
    h
}

#[cfg(unix)]
fn file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn file_mode(meta: &std::fs::Metadata) -> u32 {
    if meta.is_dir() { 0o755 } else { 0o644 }
}

/// Builds the layer for `dir`: every entry below it (not `dir` itself), sorted by path.
pub fn build_layer(dir: &Path, mtime: i64, compression: u32) -> Result<Layer, BuildError> {
    if !dir.is_dir() {
        return Err(BuildError::NotDirectory(dir.to_path_buf()));
    }
    // Blocks are compressed on up to 4 threads; the bytes do not depend on how many.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get().min(4))
        .unwrap_or(1);
    let uncompressed = HashingWriter {
        inner: gzip::ParallelGzip::new(compression, threads),
        hasher: sha2::Sha256::new(),
        count: 0,
    };
    let mut tar = tar::Builder::new(uncompressed);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut entries = 0usize;
    let walker = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .follow_links(false)
        .sort_by(|a, b| a.file_name().cmp(b.file_name()));
    for entry in walker {
        let entry = entry.map_err(|e| BuildError::Io {
            path: e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| dir.to_path_buf()),
            source: e
                .into_io_error()
                .unwrap_or_else(|| io::Error::other("directory loop")),
        })?;
        let path = entry.path();
        let rel = path.strip_prefix(dir).unwrap_or(path);
        let meta = entry.metadata().map_err(|e| BuildError::Io {
            path: path.to_path_buf(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| io::Error::other("metadata")),
        })?;
        let ft = meta.file_type();
        let mode = file_mode(&meta);
        if ft.is_dir() {
            let mut h = header(tar::EntryType::Directory, mode, 0, mtime);
            let mut name = rel.to_path_buf().into_os_string();
            name.push("/");
            tar.append_data(&mut h, Path::new(&name), io::empty())
                .map_err(io_err(path))?;
        } else if ft.is_symlink() {
            let target = fs_err::read_link(path).map_err(io_err(path))?;
            let mut h = header(tar::EntryType::Symlink, 0o777, 0, mtime);
            tar.append_link(&mut h, rel, &target)
                .map_err(io_err(path))?;
        } else if ft.is_file() {
            let file = fs_err::File::open(path).map_err(io_err(path))?;
            let mut h = header(tar::EntryType::Regular, mode, meta.len(), mtime);
            tar.append_data(&mut h, rel, file).map_err(io_err(path))?;
        } else {
            return Err(BuildError::FileType {
                path: path.to_path_buf(),
            });
        }
        entries += 1;
    }
    let uncompressed = tar.into_inner().map_err(io_err(dir))?;
    let diff_id = Digest::from_bytes(uncompressed.hasher.finalize().into());
    let uncompressed_size = uncompressed.count;
    let compressed = uncompressed.inner.finish().map_err(io_err(dir))?;
    Ok(Layer {
        digest: Digest::from_bytes(compressed.sha256),
        data: Bytes::from(compressed.data),
        diff_id,
        entries,
        uncompressed_size,
    })
}

fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A base image: its store and its tag or digest.
pub struct Base<'a> {
    pub store: &'a Store,
    pub reference: String,
}

/// Builds an image from `dir` and writes it (blobs, then the manifest tagged `tag`) to `dst`.
pub fn build(
    dir: &Path,
    base: Option<Base<'_>>,
    options: &BuildOptions,
    dst: &Store,
    tag: Option<&str>,
    progress: &dyn Fn(Progress),
) -> Result<Built, BuildError> {
    let layer = build_layer(dir, options.timestamp, options.compression)?;

    // The base image: its config and layers, copied to the destination first.
    let mut config: Map<String, Value> = Map::new();
    let mut layers: Vec<Value> = Vec::new();
    if let Some(b) = &base {
        let manifest = b
            .store
            .resolve_image(&b.reference, Some(&options.platform))
            .map_err(BuildError::Base)?;
        let m: Value =
            serde_json::from_slice(&manifest.bytes).map_err(|e| BuildError::BaseConfig {
                reference: b.reference.clone(),
                reason: e.to_string(),
            })?;
        let config_digest: Digest = m
            .pointer("/config/digest")
            .and_then(Value::as_str)
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| BuildError::BaseConfig {
                reference: b.reference.clone(),
                reason: "manifest has no config digest".into(),
            })?;
        let raw = b.store.get_blob(&config_digest).map_err(BuildError::Base)?;
        config = serde_json::from_slice(&raw).map_err(|e| BuildError::BaseConfig {
            reference: b.reference.clone(),
            reason: e.to_string(),
        })?;
        for l in m
            .get("layers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let d: Digest = l
                .get("digest")
                .and_then(Value::as_str)
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| BuildError::BaseConfig {
                    reference: b.reference.clone(),
                    reason: "layer without digest".into(),
                })?;
            let size = l.get("size").and_then(Value::as_u64).unwrap_or(0);
            progress(Progress::Blob {
                digest: d.clone(),
                size,
            });
            let uploaded = if dst.has_blob(&d).map_err(BuildError::Store)? {
                false
            } else {
                let data = b.store.get_blob(&d).map_err(BuildError::Base)?;
                dst.put_blob(&d, Bytes::from(data))
                    .map_err(BuildError::Store)?
            };
            progress(Progress::BlobDone {
                digest: d,
                size,
                uploaded,
            });
            let mut l = l.clone();
            // Docker-typed base layers are the same bytes as OCI gzip layers.
            if l.get("mediaType").and_then(Value::as_str) == Some(DOCKER_LAYER_MEDIA_TYPE) {
                l["mediaType"] = json!(LAYER_MEDIA_TYPE);
            }
            layers.push(l);
        }
    }
    let base_layers = layers.len();

    let created = rfc3339(options.timestamp);
    config.insert("created".into(), json!(created));
    config.insert("architecture".into(), json!(options.platform.architecture));
    config.insert("os".into(), json!(options.platform.os));
    if let Some(v) = &options.platform.variant {
        config.insert("variant".into(), json!(v));
    }
    let mut cfg = config
        .remove("config")
        .and_then(|c| c.as_object().cloned())
        .unwrap_or_default();
    if !options.env.is_empty() {
        let mut env: Vec<String> = cfg
            .get("Env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        for (k, v) in &options.env {
            env.retain(|e| e.split_once('=').map(|(n, _)| n) != Some(k.as_str()));
            env.push(format!("{k}={v}"));
        }
        cfg.insert("Env".into(), json!(env));
    }
    if let Some(e) = &options.entrypoint {
        cfg.insert("Entrypoint".into(), json!(e));
        // A new entrypoint drops the base command, as Docker does.
        if options.cmd.is_none() {
            cfg.remove("Cmd");
        }
    }
    if let Some(c) = &options.cmd {
        cfg.insert("Cmd".into(), json!(c));
    }
    if let Some(w) = &options.workdir {
        cfg.insert("WorkingDir".into(), json!(w));
    }
    if !options.labels.is_empty() {
        let mut labels = cfg
            .get("Labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in &options.labels {
            labels.insert(k.clone(), json!(v));
        }
        cfg.insert("Labels".into(), Value::Object(labels));
    }
    config.insert("config".into(), Value::Object(cfg));
    let mut diff_ids: Vec<Value> = config
        .get("rootfs")
        .and_then(|r| r.get("diff_ids"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    diff_ids.push(json!(layer.diff_id.to_string()));
    config.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": diff_ids}),
    );
    let mut history: Vec<Value> = config
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    history.push(json!({"created": created, "created_by": format!("slipway image build ({} entries)", layer.entries)}));
    config.insert("history".into(), json!(history));

    let config_bytes = serde_json::to_vec(&Value::Object(config)).unwrap_or_default();
    let config_digest = Digest::sha256_of(&config_bytes);
    layers.push(json!({"mediaType": LAYER_MEDIA_TYPE, "digest": layer.digest.to_string(), "size": layer.data.len()}));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest.to_string(), "size": config_bytes.len()},
        "layers": layers,
    });
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();

    let size = layer.data.len() as u64;
    progress(Progress::Blob {
        digest: layer.digest.clone(),
        size,
    });
    let uploaded = dst
        .put_blob(&layer.digest, layer.data.clone())
        .map_err(BuildError::Store)?;
    progress(Progress::BlobDone {
        digest: layer.digest.clone(),
        size,
        uploaded,
    });
    dst.put_blob(&config_digest, Bytes::from(config_bytes))
        .map_err(BuildError::Store)?;
    let manifest_digest = dst
        .put_manifest(&manifest_bytes, MANIFEST_MEDIA_TYPE, tag)
        .map_err(BuildError::Store)?;
    progress(Progress::Manifest {
        digest: manifest_digest.clone(),
        tag: tag.map(str::to_string),
    });
    Ok(Built {
        manifest_digest,
        manifest_size: manifest_bytes.len() as u64,
        config_digest,
        layer,
        base_layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;

    fn tree(root: &Path) {
        fs_err::create_dir_all(root.join("app/bin")).unwrap();
        fs_err::write(root.join("app/bin/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
        fs_err::write(root.join("app/data.txt"), "data").unwrap();
        fs_err::write(root.join("README"), "readme").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("app/bin/run.sh", root.join("run")).unwrap();
    }

    #[test]
    fn same_input_same_digest() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        tree(a.path());
        // Written in another order, with other mtimes: same layer.
        fs_err::write(b.path().join("README"), "readme").unwrap();
        fs_err::create_dir_all(b.path().join("app/bin")).unwrap();
        fs_err::write(b.path().join("app/data.txt"), "data").unwrap();
        fs_err::write(b.path().join("app/bin/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("app/bin/run.sh", b.path().join("run")).unwrap();
        let la = build_layer(a.path(), 0, 1).unwrap();
        let lb = build_layer(b.path(), 0, 1).unwrap();
        assert_eq!(la.digest, lb.digest);
        assert_eq!(la.diff_id, lb.diff_id);
        assert_eq!(la.entries, 6);

        // Whole images written to two layouts have equal manifest digests.
        let opts = BuildOptions {
            entrypoint: Some(vec!["/app/bin/run.sh".into()]),
            env: vec![("A".into(), "1".into())],
            ..BuildOptions::default()
        };
        let o1 = tempfile::tempdir().unwrap();
        let o2 = tempfile::tempdir().unwrap();
        let s1 = Store::Layout(Layout::create(o1.path()).unwrap());
        let s2 = Store::Layout(Layout::create(o2.path()).unwrap());
        let b1 = build(a.path(), None, &opts, &s1, Some("v1"), &|_| {}).unwrap();
        let b2 = build(b.path(), None, &opts, &s2, Some("v1"), &|_| {}).unwrap();
        assert_eq!(b1.manifest_digest, b2.manifest_digest);

        // A changed byte changes the digest.
        fs_err::write(b.path().join("README"), "readme!").unwrap();
        assert_ne!(build_layer(b.path(), 0, 1).unwrap().digest, la.digest);
    }

    #[test]
    fn layer_entries_are_sorted_with_numeric_owners() {
        let a = tempfile::tempdir().unwrap();
        tree(a.path());
        let layer = build_layer(a.path(), 1_700_000_000, 6).unwrap();
        let gz = flate2::read::GzDecoder::new(&layer.data[..]);
        let mut archive = tar::Archive::new(gz);
        let mut names = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.uid().unwrap(), 0);
            assert_eq!(h.gid().unwrap(), 0);
            assert_eq!(h.username().unwrap(), Some(""));
            assert_eq!(h.mtime().unwrap(), 1_700_000_000);
            names.push(e.path().unwrap().display().to_string());
        }
        assert_eq!(
            names,
            [
                "README",
                "app/",
                "app/bin/",
                "app/bin/run.sh",
                "app/data.txt",
                "run"
            ]
        );
    }

    #[test]
    fn builds_on_a_base_image() {
        let base_src = tempfile::tempdir().unwrap();
        fs_err::write(base_src.path().join("base.txt"), "base").unwrap();
        let out = tempfile::tempdir().unwrap();
        let store = Store::Layout(Layout::create(out.path()).unwrap());
        let base_opts = BuildOptions {
            env: vec![("PATH".into(), "/bin".into()), ("A".into(), "old".into())],
            cmd: Some(vec!["sh".into()]),
            ..BuildOptions::default()
        };
        build(
            base_src.path(),
            None,
            &base_opts,
            &store,
            Some("base"),
            &|_| {},
        )
        .unwrap();
        let app = tempfile::tempdir().unwrap();
        fs_err::write(app.path().join("app.txt"), "app").unwrap();
        let opts = BuildOptions {
            env: vec![("A".into(), "new".into())],
            labels: [("org.example".to_string(), "x".to_string())].into(),
            ..BuildOptions::default()
        };
        let base = Base {
            store: &store,
            reference: "base".into(),
        };
        let built = build(app.path(), Some(base), &opts, &store, Some("app"), &|_| {}).unwrap();
        assert_eq!(built.base_layers, 1);
        let m = store.get_manifest("app").unwrap();
        let mv: Value = serde_json::from_slice(&m.bytes).unwrap();
        assert_eq!(mv["layers"].as_array().unwrap().len(), 2);
        let cfg: Value =
            serde_json::from_slice(&store.get_blob(&built.config_digest).unwrap()).unwrap();
        assert_eq!(cfg["config"]["Env"], json!(["PATH=/bin", "A=new"]));
        assert_eq!(cfg["config"]["Cmd"], json!(["sh"]));
        assert_eq!(cfg["config"]["Labels"]["org.example"], "x");
        assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    }
}
