//! Container image references as Kyverno reads them
//! (`pkg/utils/image/infos.go` on top of `distribution/reference`): the
//! default registry `docker.io` is added when the first path component is not
//! a registry host, and the tag defaults to `latest` when there is neither a
//! tag nor a digest. Used by `image_normalize` and for the `images` context.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

/// The registry Kyverno adds to references without one.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// Registry host (with port), e.g. `docker.io`, `ghcr.io`, `localhost:5000`.
    pub registry: String,
    /// Repository path without the registry, e.g. `nginx`, `library/nginx`.
    pub path: String,
    /// Last path component, e.g. `nginx`.
    pub name: String,
    /// Tag; `latest` when the reference has neither tag nor digest.
    pub tag: String,
    /// Digest (`sha256:...`), empty when absent.
    pub digest: String,
}

/// Why an image reference is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The reference does not follow the `distribution/reference` grammar.
    #[error(
        "bad image: {image}, defaultRegistry: docker.io, enableDefaultRegistryMutation: true: {reason}"
    )]
    Invalid {
        /// The reference as written.
        image: String,
        /// What is wrong.
        reason: &'static str,
    },
}

static REFERENCE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let component = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*";
    let domain_component = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let domain =
        format!(r"(?:{domain_component}(?:\.{domain_component})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?");
    let tag = r"[\w][\w.-]{0,127}";
    let digest = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
    Regex::new(&format!(
        r"^((?:{domain}/)?{component}(?:/{component})*)(?::({tag}))?(?:@({digest}))?$"
    ))
    .ok()
});

impl ImageInfo {
    /// Parses a reference with Kyverno's defaults.
    ///
    /// # Errors
    /// [`ImageError::Invalid`] when the reference is malformed.
    pub fn parse(image: &str) -> Result<Self, ImageError> {
        let invalid = |reason| ImageError::Invalid {
            image: image.to_owned(),
            reason,
        };
        let full = add_default_registry(image);
        if full.is_empty() {
            return Err(invalid("repository name must have at least one component"));
        }
        let Some(re) = REFERENCE.as_ref() else {
            return Err(invalid("reference grammar unavailable"));
        };
        let Some(caps) = re.captures(&full) else {
            if full.chars().any(|c| c.is_ascii_uppercase())
                && re.captures(&full.to_ascii_lowercase()).is_some()
            {
                return Err(invalid("repository name must be lowercase"));
            }
            return Err(invalid("invalid reference format"));
        };
        let named = caps.get(1).map_or("", |m| m.as_str());
        if named.len() > 255 {
            return Err(invalid(
                "repository name must not be more than 255 characters",
            ));
        }
        let (registry, path) = named.split_once('/').unwrap_or(("", named));
        let name = path.rsplit('/').next().unwrap_or(path).to_owned();
        let mut tag = caps.get(2).map_or("", |m| m.as_str()).to_owned();
        let digest = caps.get(3).map_or("", |m| m.as_str()).to_owned();
        if tag.is_empty() && digest.is_empty() {
            tag = "latest".to_owned();
        }
        Ok(Self {
            registry: registry.to_owned(),
            path: path.to_owned(),
            name,
            tag,
            digest,
        })
    }

    /// `registry/path:tag`, with the tag even when there is a digest.
    pub fn reference_with_tag(&self) -> String {
        format!("{}:{}", self.repository(), self.tag)
    }

    fn repository(&self) -> String {
        if self.registry.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.registry, self.path)
        }
    }

    /// The object Kyverno puts under `images.<kind>.<container>`.
    pub fn to_context_value(&self) -> Value {
        json!({
            "registry": self.registry,
            "path": self.path,
            "name": self.name,
            "tag": self.tag,
            "digest": self.digest,
            "reference": self.to_string(),
            "referenceWithTag": self.reference_with_tag(),
        })
    }
}

impl fmt::Display for ImageInfo {
    /// The normalised reference: `registry/path@digest` when there is a digest,
    /// else `registry/path:tag`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.digest.is_empty() {
            write!(f, "{}:{}", self.repository(), self.tag)
        } else {
            write!(f, "{}@{}", self.repository(), self.digest)
        }
    }
}

/// Kyverno's `addDefaultRegistry`: the first component is a registry when it
/// contains `.` or `:`, is `localhost`, or has upper-case letters.
fn add_default_registry(image: &str) -> String {
    match image.find('/') {
        Some(i) => {
            let first = &image[..i];
            if !first.contains(['.', ':']) && first != "localhost" && first.to_lowercase() == first
            {
                format!("{DEFAULT_REGISTRY}/{image}")
            } else {
                image.to_owned()
            }
        }
        None => format!("{DEFAULT_REGISTRY}/{image}"),
    }
}
