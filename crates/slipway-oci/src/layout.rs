//! OCI image layouts on disk (`oci-layout`, `index.json`, `blobs/sha256/<hex>`): reading and
//! writing blobs and manifests, tags via `org.opencontainers.image.ref.name`, with every read
//! checked against its digest. Cosign `.sig` attachments live in the layout under their tags.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use thiserror::Error;

use crate::digest::{Digest, DigestError};
use crate::legacy::{SIGNATURE_ANNOTATION, SignatureLayer};

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Layout errors.
#[derive(Debug, Error)]
pub enum LayoutError {
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    #[error("{path} is not an oci image layout: {reason}")]
    NotLayout { path: PathBuf, reason: String },
    #[error("blob {digest} in {path}")]
    Corrupt {
        digest: Digest,
        path: PathBuf,
        #[source]
        source: DigestError,
    },
    #[error("tag {0:?} not found in the layout")]
    NoTag(String),
    #[error("manifest {digest} is malformed: {reason}")]
    BadManifest { digest: Digest, reason: String },
}

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

/// A descriptor as stored in manifests and indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

impl Descriptor {
    pub fn to_json(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest.to_string(), "size": self.size})
    }
}

impl Layout {
    /// Opens an existing layout.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, LayoutError> {
        let root = root.into();
        if !root.join("oci-layout").is_file() || !root.join("index.json").is_file() {
            return Err(LayoutError::NotLayout {
                path: root,
                reason: "missing oci-layout or index.json".into(),
            });
        }
        Ok(Self { root })
    }

    /// Opens a layout, creating an empty one when the directory has none.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self, LayoutError> {
        let root = root.into();
        fs_err::create_dir_all(root.join("blobs/sha256"))?;
        if !root.join("oci-layout").exists() {
            fs_err::write(
                root.join("oci-layout"),
                br#"{"imageLayoutVersion":"1.0.0"}"#,
            )?;
        }
        if !root.join("index.json").exists() {
            let index = json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []});
            fs_err::write(
                root.join("index.json"),
                serde_json::to_vec(&index).unwrap_or_default(),
            )?;
        }
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// Reads a blob and checks its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, LayoutError> {
        let path = self.blob_path(digest);
        let data = fs_err::read(&path)?;
        digest
            .verify(&data)
            .map_err(|source| LayoutError::Corrupt {
                digest: digest.clone(),
                path,
                source,
            })?;
        Ok(data)
    }

    /// Writes a blob (content-addressed; existing blobs are kept).
    pub fn write_blob(&self, data: &[u8]) -> Result<Digest, LayoutError> {
        let digest = Digest::sha256_of(data);
        let path = self.blob_path(&digest);
        if !path.exists() {
            let tmp = path.with_extension("tmp");
            fs_err::write(&tmp, data)?;
            fs_err::rename(&tmp, &path)?;
        }
        Ok(digest)
    }

    fn index(&self) -> Result<Value, LayoutError> {
        let data = fs_err::read(self.root.join("index.json"))?;
        serde_json::from_slice(&data).map_err(|e| LayoutError::NotLayout {
            path: self.root.clone(),
            reason: format!("index.json: {e}"),
        })
    }

    /// Tags and their descriptors.
    pub fn tags(&self) -> Result<Vec<(String, Descriptor)>, LayoutError> {
        let index = self.index()?;
        let mut out = Vec::new();
        for m in index
            .get("manifests")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
        {
            let Some(tag) = m
                .pointer(&format!("/annotations/{}", REF_NAME.replace('/', "~1")))
                .and_then(|t| t.as_str())
            else {
                continue;
            };
            if let Some(desc) = parse_descriptor(m) {
                out.push((tag.to_string(), desc));
            }
        }
        Ok(out)
    }

    /// Resolves a tag (or a `sha256:` digest) to a manifest descriptor.
    pub fn resolve(&self, reference: &str) -> Result<Descriptor, LayoutError> {
        if let Ok(d) = reference.parse::<Digest>() {
            let data = self.read_blob(&d)?;
            let media_type = serde_json::from_slice::<Value>(&data)
                .ok()
                .and_then(|v| {
                    v.get("mediaType")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| MANIFEST_MEDIA_TYPE.to_string());
            return Ok(Descriptor {
                media_type,
                digest: d,
                size: data.len() as u64,
            });
        }
        self.tags()?
            .into_iter()
            .find(|(t, _)| t == reference)
            .map(|(_, d)| d)
            .ok_or_else(|| LayoutError::NoTag(reference.to_string()))
    }

    /// Points `tag` at a manifest (replacing an existing entry with that tag).
    pub fn set_tag(&self, tag: &str, desc: &Descriptor) -> Result<(), LayoutError> {
        let mut index = self.index()?;
        let mut manifests: Vec<Value> = index
            .get("manifests")
            .and_then(|m| m.as_array())
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| {
                m.pointer(&format!("/annotations/{}", REF_NAME.replace('/', "~1")))
                    .and_then(|t| t.as_str())
                    != Some(tag)
            })
            .collect();
        let mut entry = desc.to_json();
        entry["annotations"] = json!({ REF_NAME: tag });
        manifests.push(entry);
        index["manifests"] = Value::Array(manifests);
        let tmp = self.root.join("index.json.tmp");
        fs_err::write(&tmp, serde_json::to_vec(&index).unwrap_or_default())?;
        fs_err::rename(&tmp, self.root.join("index.json"))?;
        Ok(())
    }

    /// Writes a manifest blob and returns its descriptor.
    pub fn write_manifest(&self, manifest: &Value) -> Result<Descriptor, LayoutError> {
        let bytes = serde_json::to_vec(manifest).unwrap_or_default();
        let media_type = manifest
            .get("mediaType")
            .and_then(|m| m.as_str())
            .unwrap_or(MANIFEST_MEDIA_TYPE)
            .to_string();
        let digest = self.write_blob(&bytes)?;
        Ok(Descriptor {
            media_type,
            digest,
            size: bytes.len() as u64,
        })
    }

    /// The layers of the `.sig` manifest for `digest`, or none.
    pub fn signature_layers(&self, digest: &Digest) -> Result<Vec<SignatureLayer>, LayoutError> {
        let desc = match self.resolve(&digest.tag(Some("sig"))) {
            Ok(d) => d,
            Err(LayoutError::NoTag(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let manifest: Value =
            serde_json::from_slice(&self.read_blob(&desc.digest)?).map_err(|e| {
                LayoutError::BadManifest {
                    digest: desc.digest.clone(),
                    reason: e.to_string(),
                }
            })?;
        let mut out = Vec::new();
        for layer in manifest
            .get("layers")
            .and_then(|l| l.as_array())
            .into_iter()
            .flatten()
        {
            let d = parse_descriptor(layer).ok_or_else(|| LayoutError::BadManifest {
                digest: desc.digest.clone(),
                reason: "layer descriptor".into(),
            })?;
            let annotations = layer
                .get("annotations")
                .and_then(|a| a.as_object())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            out.push(SignatureLayer {
                media_type: d.media_type,
                blob: self.read_blob(&d.digest)?,
                annotations,
            });
        }
        Ok(out)
    }

    /// Appends a signature layer to the `.sig` manifest of `digest` (skipping exact duplicates).
    pub fn add_signature(
        &self,
        digest: &Digest,
        layer: &SignatureLayer,
    ) -> Result<Descriptor, LayoutError> {
        let mut layers = self.signature_layers(digest)?;
        let duplicate = layers.iter().any(|l| {
            l.blob == layer.blob
                && l.annotations.get(SIGNATURE_ANNOTATION)
                    == layer.annotations.get(SIGNATURE_ANNOTATION)
        });
        if !duplicate {
            layers.push(layer.clone());
        }
        let manifest = signature_manifest(self, &layers)?;
        let desc = self.write_manifest(&manifest)?;
        self.set_tag(&digest.tag(Some("sig")), &desc)?;
        Ok(desc)
    }
}

fn parse_descriptor(v: &Value) -> Option<Descriptor> {
    Some(Descriptor {
        media_type: v.get("mediaType")?.as_str()?.to_string(),
        digest: v.get("digest")?.as_str()?.parse().ok()?,
        size: v.get("size")?.as_u64()?,
    })
}

/// A cosign `.sig` manifest: one layer per signature, a config listing the payload diff ids.
fn signature_manifest(layout: &Layout, layers: &[SignatureLayer]) -> Result<Value, LayoutError> {
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let d = layout.write_blob(&l.blob)?;
        diff_ids.push(d.to_string());
        let mut desc =
            json!({"mediaType": l.media_type, "size": l.blob.len(), "digest": d.to_string()});
        desc["annotations"] = serde_json::to_value(&l.annotations).unwrap_or_default();
        layer_descs.push(desc);
    }
    let config = json!({"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids}});
    let config_bytes = serde_json::to_vec(&config).unwrap_or_default();
    let config_digest = layout.write_blob(&config_bytes)?;
    Ok(json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "size": config_bytes.len(), "digest": config_digest.to_string()},
        "layers": layer_descs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use crate::legacy::{LegacyPolicy, sign_layer, verify_layers};

    #[test]
    fn blobs_tags_and_signatures_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let config = layout.write_blob(b"{}").unwrap();
        let manifest = json!({"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, "size": 2, "digest": config.to_string()}, "layers": []});
        let desc = layout.write_manifest(&manifest).unwrap();
        layout.set_tag("v1", &desc).unwrap();
        let layout = Layout::open(dir.path()).unwrap();
        assert_eq!(layout.resolve("v1").unwrap(), desc);

        let key = SigningKey::generate().unwrap();
        let layer = sign_layer(&key, "example.com/app", &desc.digest).unwrap();
        layout.add_signature(&desc.digest, &layer).unwrap();
        layout.add_signature(&desc.digest, &layer).unwrap();
        let layers = layout.signature_layers(&desc.digest).unwrap();
        assert_eq!(layers.len(), 1, "duplicate signature not appended");
        let policy = LegacyPolicy::Keys(vec![key.public_key()]);
        verify_layers(&desc.digest.to_string(), &layers, &policy).unwrap();
        let other = LegacyPolicy::Keys(vec![SigningKey::generate().unwrap().public_key()]);
        assert!(verify_layers(&desc.digest.to_string(), &layers, &other).is_err());

        // A corrupted blob is an error naming the digest.
        fs_err::write(dir.path().join("blobs/sha256").join(config.hex()), b"[]").unwrap();
        let err = layout.read_blob(&config).unwrap_err();
        assert!(err.to_string().contains(&config.to_string()), "{err}");
    }
}
