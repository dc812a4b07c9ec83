//! Where images live, behind one interface: an OCI image layout or a registry repository.
//! Copying images (manifests, indexes and their blobs, optionally their cosign `.sig`
//! signatures) between any two stores, and reading/writing legacy signatures in either.

use std::path::Path;

use bytes::Bytes;
use serde_json::{Value, json};
use thiserror::Error;

use crate::digest::Digest;
use crate::layout::{
    CONFIG_MEDIA_TYPE, Descriptor, INDEX_MEDIA_TYPE, Layout, LayoutError, MANIFEST_MEDIA_TYPE,
};
use crate::legacy::SignatureLayer;
use crate::reference::{ImageRef, Version};
use crate::registry::{
    FetchedManifest, Registry, RegistryError, RegistryOptions, fallback_index, referrer_descriptor,
};

/// Docker's manifest list and manifest media types (read like their OCI equivalents).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Store errors.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("layout {path}")]
    Layout {
        path: String,
        #[source]
        source: LayoutError,
    },
    #[error("registry")]
    Registry(#[from] RegistryError),
    #[error("{reference} has no tag or digest")]
    NoVersion { reference: String },
    #[error("manifest {digest} of {reference} is malformed: {reason}")]
    BadManifest {
        reference: String,
        digest: Digest,
        reason: String,
    },
    #[error("{reference}: no manifest for platform {platform} (available: {available})")]
    NoPlatform {
        reference: String,
        platform: String,
        available: String,
    },
    #[error("{reference} not found")]
    NotFound { reference: String },
}

/// An image store: a layout directory or a registry repository.
#[derive(Debug)]
pub enum Store {
    Layout(Layout),
    Registry {
        client: Registry,
        repository: String,
    },
}

/// Progress of a copy or a push (one event per blob or manifest).
#[derive(Debug, Clone)]
pub enum Progress {
    /// A blob is being transferred.
    Blob { digest: Digest, size: u64 },
    /// A blob was transferred (`uploaded` false: the destination had it).
    BlobDone {
        digest: Digest,
        size: u64,
        uploaded: bool,
    },
    /// A manifest was written.
    Manifest { digest: Digest, tag: Option<String> },
}

/// What a copy did.
#[derive(Debug, Clone, Default)]
pub struct CopyReport {
    pub digest: Option<Digest>,
    pub blobs_copied: usize,
    pub blobs_skipped: usize,
    pub bytes_copied: u64,
    pub signatures_copied: bool,
}

/// A platform (`os/arch[/variant]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `linux/amd64` or `linux/arm64/v8`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('/');
        let os = parts.next().filter(|p| !p.is_empty())?;
        let architecture = parts.next().filter(|p| !p.is_empty())?;
        let variant = parts.next().map(str::to_string);
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            os: os.into(),
            architecture: architecture.into(),
            variant,
        })
    }

    fn matches(&self, v: &Value) -> bool {
        v.get("os").and_then(Value::as_str) == Some(&self.os)
            && v.get("architecture").and_then(Value::as_str) == Some(&self.architecture)
            && (self.variant.is_none()
                || v.get("variant").and_then(Value::as_str) == self.variant.as_deref())
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Whether a media type is an index (OCI or Docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    media_type == INDEX_MEDIA_TYPE || media_type == DOCKER_MANIFEST_LIST
}

fn layout_err(layout: &Layout) -> impl Fn(LayoutError) -> StoreError + '_ {
    move |source| StoreError::Layout {
        path: layout.root().display().to_string(),
        source,
    }
}

impl Store {
    /// Opens the store of a reference (creating a layout when `create` is set) and returns
    /// the tag or digest to use in it.
    pub fn open(
        reference: &ImageRef,
        options: &RegistryOptions,
        create: bool,
    ) -> Result<(Self, Option<Version>), StoreError> {
        match reference {
            ImageRef::Layout { path, version } => {
                let layout = if create {
                    Layout::create(path)
                } else {
                    Layout::open(path)
                }
                .map_err(|source| StoreError::Layout {
                    path: path.display().to_string(),
                    source,
                })?;
                Ok((Store::Layout(layout), version.clone()))
            }
            ImageRef::Registry(r) => {
                let client = Registry::new(&r.registry, options)?;
                let repository = if (r.registry == "docker.io" || r.registry == "index.docker.io")
                    && !r.repository.contains('/')
                {
                    format!("library/{}", r.repository)
                } else {
                    r.repository.clone()
                };
                Ok((Store::Registry { client, repository }, Some(r.version())))
            }
        }
    }

    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Layout(l) => format!("oci:{}", l.root().display()),
            Store::Registry { client, repository } => format!("{}/{repository}", client.host()),
        }
    }

    /// Fetches a manifest (tag or digest), digest-checked.
    pub fn get_manifest(&self, reference: &str) -> Result<FetchedManifest, StoreError> {
        match self {
            Store::Layout(l) => {
                let desc = match l.resolve(reference) {
                    Ok(d) => d,
                    Err(LayoutError::NoTag(_)) => {
                        return Err(StoreError::NotFound {
                            reference: format!("{}:{reference}", self.describe()),
                        });
                    }
                    Err(LayoutError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(StoreError::NotFound {
                            reference: format!("{}@{reference}", self.describe()),
                        });
                    }
                    Err(e) => return Err(layout_err(l)(e)),
                };
                let bytes = l.read_blob(&desc.digest).map_err(layout_err(l))?;
                let media_type = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| {
                        v.get("mediaType")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .unwrap_or(desc.media_type);
                Ok(FetchedManifest {
                    bytes,
                    media_type,
                    digest: desc.digest,
                })
            }
            Store::Registry { client, repository } => client
                .get_manifest(repository, reference)
                .map_err(|e| match e {
                    RegistryError::NotFound { .. } => StoreError::NotFound {
                        reference: format!("{}:{reference}", self.describe()),
                    },
                    e => e.into(),
                }),
        }
    }

    /// Writes a manifest's exact bytes, tagged when `tag` is given.
    pub fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Digest, StoreError> {
        match self {
            Store::Layout(l) => {
                let digest = l.write_blob(bytes).map_err(layout_err(l))?;
                if let Some(t) = tag {
                    let desc = Descriptor {
                        media_type: media_type.to_string(),
                        digest: digest.clone(),
                        size: bytes.len() as u64,
                    };
                    l.set_tag(t, &desc).map_err(layout_err(l))?;
                }
                Ok(digest)
            }
            Store::Registry { client, repository } => {
                let digest = Digest::sha256_of(bytes);
                let reference = tag
                    .map(str::to_string)
                    .unwrap_or_else(|| digest.to_string());
                client.put_manifest(repository, &reference, bytes, media_type)?;
                Ok(digest)
            }
        }
    }

    pub fn has_blob(&self, digest: &Digest) -> Result<bool, StoreError> {
        match self {
            Store::Layout(l) => Ok(l.root().join("blobs/sha256").join(digest.hex()).is_file()),
            Store::Registry { client, repository } => Ok(client.has_blob(repository, digest)?),
        }
    }

    /// Reads a blob, digest-checked.
    pub fn get_blob(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        match self {
            Store::Layout(l) => l.read_blob(digest).map_err(layout_err(l)),
            Store::Registry { client, repository } => Ok(client.get_blob(repository, digest)?),
        }
    }

    /// Writes a blob unless present; returns whether it was written.
    pub fn put_blob(&self, digest: &Digest, data: Bytes) -> Result<bool, StoreError> {
        match self {
            Store::Layout(l) => {
                if self.has_blob(digest)? {
                    return Ok(false);
                }
                let written = l.write_blob(&data).map_err(layout_err(l))?;
                if &written != digest {
                    return Err(layout_err(l)(LayoutError::Corrupt {
                        digest: digest.clone(),
                        path: l.root().to_path_buf(),
                        source: crate::digest::DigestError::Mismatch {
                            expected: digest.clone(),
                            actual: written,
                        },
                    }));
                }
                Ok(true)
            }
            Store::Registry { client, repository } => {
                Ok(client.put_blob(repository, digest, data)?)
            }
        }
    }

    /// Tags in the store (for a layout: every `ref.name`).
    pub fn tags(&self) -> Result<Vec<(String, Option<Digest>)>, StoreError> {
        match self {
            Store::Layout(l) => Ok(l
                .tags()
                .map_err(layout_err(l))?
                .into_iter()
                .map(|(t, d)| (t, Some(d.digest)))
                .collect()),
            Store::Registry { client, repository } => Ok(client
                .tags(repository)?
                .into_iter()
                .map(|t| (t, None))
                .collect()),
        }
    }

    /// Resolves a reference to an image manifest for `platform` (descending into an index).
    pub fn resolve_image(
        &self,
        reference: &str,
        platform: Option<&Platform>,
    ) -> Result<FetchedManifest, StoreError> {
        let top = self.get_manifest(reference)?;
        if !is_index(&top.media_type) {
            return Ok(top);
        }
        let index = parse_json(&top, reference)?;
        let manifests = index
            .get("manifests")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let default = Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        };
        let want = platform.unwrap_or(&default);
        let chosen = manifests
            .iter()
            .find(|m| m.get("platform").is_some_and(|p| want.matches(p)))
            .ok_or_else(|| StoreError::NoPlatform {
                reference: reference.to_string(),
                platform: want.to_string(),
                available: manifests
                    .iter()
                    .filter_map(|m| m.get("platform"))
                    .map(|p| {
                        format!(
                            "{}/{}",
                            p.get("os").and_then(Value::as_str).unwrap_or("?"),
                            p.get("architecture").and_then(Value::as_str).unwrap_or("?")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let digest = chosen
            .get("digest")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.get_manifest(digest)
    }

    /// The referrers of `subject` (descriptors with `artifactType`): the registry's referrers
    /// API or fallback tag; for layouts, the fallback tag `sha256-<hex>`.
    pub fn referrers(&self, subject: &Digest) -> Result<Vec<Value>, StoreError> {
        match self {
            Store::Registry { client, repository } => Ok(client.referrers(repository, subject)?),
            Store::Layout(_) => match self.get_manifest(&subject.tag(None)) {
                Ok(m) => Ok(parse_json(&m, &subject.tag(None))?
                    .get("manifests")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()),
                Err(StoreError::NotFound { .. }) => Ok(Vec::new()),
                Err(e) => Err(e),
            },
        }
    }

    /// Writes a referrer manifest (its blobs must be present) and records it for `subject`.
    pub fn push_referrer(
        &self,
        subject: &Digest,
        bytes: &[u8],
        media_type: &str,
        artifact_type: &str,
    ) -> Result<Digest, StoreError> {
        match self {
            Store::Registry { client, repository } => {
                Ok(client.push_referrer(repository, subject, bytes, media_type, artifact_type)?)
            }
            Store::Layout(_) => {
                let digest = self.put_manifest(bytes, media_type, None)?;
                let tag = subject.tag(None);
                let existing = match self.get_manifest(&tag) {
                    Ok(m) => m.bytes,
                    Err(StoreError::NotFound { .. }) => Vec::new(),
                    Err(e) => return Err(e),
                };
                let index = fallback_index(
                    &existing,
                    &referrer_descriptor(bytes, media_type, artifact_type),
                );
                self.put_manifest(&index, INDEX_MEDIA_TYPE, Some(&tag))?;
                Ok(digest)
            }
        }
    }

    /// Attaches a Sigstore bundle to `subject` as an OCI 1.1 referrer (cosign's layout: empty
    /// config, one bundle layer, `subject`, bundle annotations).
    pub fn attach_bundle(
        &self,
        subject: &FetchedManifest,
        bundle: &[u8],
        predicate_type: &str,
        created: i64,
    ) -> Result<Digest, StoreError> {
        let created = crate::sigstore::cert::fmt_time(created);
        const EMPTY: &[u8] = b"{}";
        const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
        let bundle_digest = Digest::sha256_of(bundle);
        self.put_blob(&bundle_digest, Bytes::copy_from_slice(bundle))?;
        let empty = Digest::sha256_of(EMPTY);
        self.put_blob(&empty, Bytes::from_static(EMPTY))?;
        let artifact_type = crate::sigstore::sign::BUNDLE_V03_MEDIA_TYPE;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": artifact_type,
            "config": {"mediaType": EMPTY_MEDIA_TYPE, "size": EMPTY.len(), "digest": empty.to_string()},
            "layers": [{"mediaType": artifact_type, "size": bundle.len(), "digest": bundle_digest.to_string()}],
            "subject": {"mediaType": subject.media_type, "size": subject.bytes.len(), "digest": subject.digest.to_string()},
            "annotations": {
                "dev.sigstore.bundle.content": "dsse-envelope",
                "dev.sigstore.bundle.predicateType": predicate_type,
                "org.opencontainers.image.created": created,
            },
        });
        let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
        self.push_referrer(&subject.digest, &bytes, MANIFEST_MEDIA_TYPE, artifact_type)
    }

    /// The Sigstore bundles attached to `subject` (referrers whose single layer is a bundle),
    /// each with its referrer manifest digest. Referrers that are not bundles are skipped.
    pub fn bundles(&self, subject: &Digest) -> Result<Vec<(Digest, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for r in self.referrers(subject)? {
            let is_bundle = r
                .get("artifactType")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with("application/vnd.dev.sigstore.bundle"));
            let Some((d, _)) = descriptor(&r).filter(|_| is_bundle) else {
                continue;
            };
            let m = self.get_manifest(&d.to_string())?;
            let v = parse_json(&m, &d.to_string())?;
            let layers = v
                .get("layers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let [layer] = layers.as_slice() else {
                continue;
            };
            let Some((blob, _)) = descriptor(layer).filter(|_| {
                layer
                    .get("mediaType")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with("application/vnd.dev.sigstore.bundle"))
            }) else {
                continue;
            };
            out.push((d, self.get_blob(&blob)?));
        }
        Ok(out)
    }

    /// The legacy signature layers attached to `digest` (the `sha256-<hex>.sig` tag), or none.
    pub fn signature_layers(&self, digest: &Digest) -> Result<Vec<SignatureLayer>, StoreError> {
        let tag = digest.tag(Some("sig"));
        let manifest = match self.get_manifest(&tag) {
            Ok(m) => m,
            Err(StoreError::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let value = parse_json(&manifest, &tag)?;
        let mut out = Vec::new();
        for layer in value
            .get("layers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (d, _) = descriptor(layer).ok_or_else(|| StoreError::BadManifest {
                reference: tag.clone(),
                digest: manifest.digest.clone(),
                reason: "layer descriptor without digest or mediaType".into(),
            })?;
            let annotations = layer
                .get("annotations")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            out.push(SignatureLayer {
                media_type: layer
                    .get("mediaType")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                blob: self.get_blob(&d)?,
                annotations,
            });
        }
        Ok(out)
    }

    /// Adds a signature layer to the `.sig` manifest of `digest` (as cosign does: existing
    /// layers kept, exact duplicates skipped). Returns the new `.sig` manifest digest.
    pub fn add_signature(
        &self,
        digest: &Digest,
        layer: &SignatureLayer,
    ) -> Result<Digest, StoreError> {
        let mut layers = self.signature_layers(digest)?;
        let sig = crate::legacy::SIGNATURE_ANNOTATION;
        if !layers
            .iter()
            .any(|l| l.blob == layer.blob && l.annotations.get(sig) == layer.annotations.get(sig))
        {
            layers.push(layer.clone());
        }
        let mut layer_descs = Vec::new();
        let mut diff_ids = Vec::new();
        for l in &layers {
            let d = Digest::sha256_of(&l.blob);
            self.put_blob(&d, Bytes::from(l.blob.clone()))?;
            diff_ids.push(d.to_string());
            let mut desc =
                json!({"mediaType": l.media_type, "size": l.blob.len(), "digest": d.to_string()});
            desc["annotations"] = serde_json::to_value(&l.annotations).unwrap_or_default();
            layer_descs.push(desc);
        }
        let config = json!({"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids}});
        let config_bytes = serde_json::to_vec(&config).unwrap_or_default();
        let config_digest = Digest::sha256_of(&config_bytes);
        self.put_blob(&config_digest, Bytes::from(config_bytes.clone()))?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, "size": config_bytes.len(), "digest": config_digest.to_string()},
            "layers": layer_descs,
        });
        let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
        self.put_manifest(&bytes, MANIFEST_MEDIA_TYPE, Some(&digest.tag(Some("sig"))))
    }
}

fn parse_json(m: &FetchedManifest, reference: &str) -> Result<Value, StoreError> {
    serde_json::from_slice(&m.bytes).map_err(|e| StoreError::BadManifest {
        reference: reference.to_string(),
        digest: m.digest.clone(),
        reason: e.to_string(),
    })
}

fn descriptor(v: &Value) -> Option<(Digest, u64)> {
    Some((
        v.get("digest")?.as_str()?.parse().ok()?,
        v.get("size").and_then(Value::as_u64).unwrap_or(0),
    ))
}

/// Copies the manifest `src_ref` (and everything it references) from `src` to `dst`,
/// tagging it `dst_tag` there; with `signatures`, the `.sig` attachment too.
pub fn copy(
    src: &Store,
    src_ref: &str,
    dst: &Store,
    dst_tag: Option<&str>,
    signatures: bool,
    progress: &dyn Fn(Progress),
) -> Result<CopyReport, StoreError> {
    let mut report = CopyReport::default();
    let manifest = src.get_manifest(src_ref)?;
    copy_manifest(src, &manifest, src_ref, dst, dst_tag, &mut report, progress)?;
    if signatures {
        let tag = manifest.digest.tag(Some("sig"));
        match src.get_manifest(&tag) {
            Ok(sig) => {
                copy_manifest(src, &sig, &tag, dst, Some(&tag), &mut report, progress)?;
                report.signatures_copied = true;
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        for r in src.referrers(&manifest.digest)? {
            let Some((d, _)) = descriptor(&r) else {
                continue;
            };
            let artifact_type = r
                .get("artifactType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let referrer = src.get_manifest(&d.to_string())?;
            copy_blobs(src, &referrer, &d.to_string(), dst, &mut report, progress)?;
            dst.push_referrer(
                &manifest.digest,
                &referrer.bytes,
                &referrer.media_type,
                &artifact_type,
            )?;
            report.signatures_copied = true;
        }
    }
    report.digest = Some(manifest.digest);
    Ok(report)
}

fn copy_manifest(
    src: &Store,
    manifest: &FetchedManifest,
    reference: &str,
    dst: &Store,
    tag: Option<&str>,
    report: &mut CopyReport,
    progress: &dyn Fn(Progress),
) -> Result<(), StoreError> {
    let value = parse_json(manifest, reference)?;
    if is_index(&manifest.media_type) {
        for child in value
            .get("manifests")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (d, _) = descriptor(child).ok_or_else(|| StoreError::BadManifest {
                reference: reference.to_string(),
                digest: manifest.digest.clone(),
                reason: "index entry without a valid digest".into(),
            })?;
            let child_manifest = src.get_manifest(&d.to_string())?;
            copy_manifest(
                src,
                &child_manifest,
                &d.to_string(),
                dst,
                None,
                report,
                progress,
            )?;
        }
    } else {
        copy_blobs(src, manifest, reference, dst, report, progress)?;
    }
    let digest = dst.put_manifest(&manifest.bytes, &manifest.media_type, tag)?;
    progress(Progress::Manifest {
        digest,
        tag: tag.map(str::to_string),
    });
    Ok(())
}

fn copy_blobs(
    src: &Store,
    manifest: &FetchedManifest,
    reference: &str,
    dst: &Store,
    report: &mut CopyReport,
    progress: &dyn Fn(Progress),
) -> Result<(), StoreError> {
    let value = parse_json(manifest, reference)?;
    let mut blobs = Vec::new();
    if let Some(c) = value.get("config") {
        blobs.push(c);
    }
    blobs.extend(
        value
            .get("layers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    for b in blobs {
        let (d, size) = descriptor(b).ok_or_else(|| StoreError::BadManifest {
            reference: reference.to_string(),
            digest: manifest.digest.clone(),
            reason: "blob descriptor without a valid digest".into(),
        })?;
        progress(Progress::Blob {
            digest: d.clone(),
            size,
        });
        let uploaded = if dst.has_blob(&d)? {
            false
        } else {
            let data = src.get_blob(&d)?;
            dst.put_blob(&d, Bytes::from(data))?
        };
        if uploaded {
            report.blobs_copied += 1;
            report.bytes_copied += size;
        } else {
            report.blobs_skipped += 1;
        }
        progress(Progress::BlobDone {
            digest: d,
            size,
            uploaded,
        });
    }
    Ok(())
}

/// Opens the default layout (the local image store) under `data_dir`.
pub fn default_layout_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("images")
}
