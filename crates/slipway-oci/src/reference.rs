//! Image references as users write them: `oci:PATH[:TAG|@DIGEST]` for an OCI image layout,
//! `HOST[:PORT]/REPO[:TAG][@DIGEST]` for a registry, and a bare `NAME[:TAG]` (no host part) for
//! the default layout in the data directory.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::digest::Digest;

/// Reference errors.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid image reference {reference:?}: {reason}")]
    Invalid { reference: String, reason: String },
}

/// A tag or a digest inside a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    Tag(String),
    Digest(Digest),
}

impl Version {
    /// The string a registry or a layout resolves (`v1` or `sha256:...`).
    pub fn as_reference(&self) -> String {
        match self {
            Version::Tag(t) => t.clone(),
            Version::Digest(d) => d.to_string(),
        }
    }
}

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// An OCI image layout; `name` is the `org.opencontainers.image.ref.name` (or a digest).
    Layout {
        path: PathBuf,
        version: Option<Version>,
    },
    /// A repository in a distribution registry.
    Registry(RegistryRef),
}

/// `registry/repository` with an optional tag and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// Host and optional port as written (`docker.io` for Docker Hub).
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl RegistryRef {
    /// The tag or digest to resolve: the digest wins, then the tag, then `latest`.
    pub fn version(&self) -> Version {
        match (&self.digest, &self.tag) {
            (Some(d), _) => Version::Digest(d.clone()),
            (None, Some(t)) => Version::Tag(t.clone()),
            (None, None) => Version::Tag("latest".into()),
        }
    }

    /// `registry/repository` without tag or digest (the identity cosign signs).
    pub fn repository_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Layout { path, version } => {
                write!(f, "oci:{}", path.display())?;
                match version {
                    Some(Version::Tag(t)) => write!(f, ":{t}"),
                    Some(Version::Digest(d)) => write!(f, "@{d}"),
                    None => Ok(()),
                }
            }
            ImageRef::Registry(r) => r.fmt(f),
        }
    }
}

fn invalid(reference: &str, reason: &str) -> ReferenceError {
    ReferenceError::Invalid {
        reference: reference.to_string(),
        reason: reason.to_string(),
    }
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        && !tag.starts_with(['.', '-'])
}

fn valid_repository(repo: &str) -> bool {
    !repo.is_empty()
        && repo.split('/').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'_'
                        || b == b'.'
                        || b == b'-'
                })
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
        })
}

/// Splits `name[:tag][@digest]` (the tag colon is the last one after the last `/`).
fn split_name(
    rest: &str,
    reference: &str,
) -> Result<(String, Option<String>, Option<Digest>), ReferenceError> {
    let (name, digest) = match rest.split_once('@') {
        Some((n, d)) => (
            n,
            Some(
                d.parse::<Digest>()
                    .map_err(|e| invalid(reference, &e.to_string()))?,
            ),
        ),
        None => (rest, None),
    };
    let slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], Some(name[slash + i + 1..].to_string())),
        None => (name, None),
    };
    if let Some(t) = &tag
        && !valid_tag(t)
    {
        return Err(invalid(reference, &format!("tag {t:?} is not valid")));
    }
    Ok((name.to_string(), tag, digest))
}

impl ImageRef {
    /// Parses a reference; bare names (no registry host) live in `default_layout`.
    pub fn parse(reference: &str, default_layout: &Path) -> Result<Self, ReferenceError> {
        if let Some(rest) = reference.strip_prefix("oci:") {
            if rest.is_empty() {
                return Err(invalid(reference, "missing layout path after oci:"));
            }
            // The path is everything up to an `@digest` or a final `:tag`.
            let (path, version) = if let Some((p, d)) = rest.rsplit_once('@') {
                let d = d
                    .parse::<Digest>()
                    .map_err(|e| invalid(reference, &e.to_string()))?;
                (p, Some(Version::Digest(d)))
            } else if let Some((p, t)) = rest.rsplit_once(':')
                && !t.contains('/')
                && !p.is_empty()
            {
                (p, Some(Version::Tag(t.to_string())))
            } else {
                (rest, None)
            };
            return Ok(ImageRef::Layout {
                path: PathBuf::from(path),
                version,
            });
        }
        if reference.is_empty() || reference.contains("://") {
            return Err(invalid(
                reference,
                "expected oci:PATH[:TAG], HOST/REPO[:TAG][@DIGEST] or NAME[:TAG]",
            ));
        }
        let first = reference.split('/').next().unwrap_or_default();
        let has_host = reference.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost");
        if !has_host {
            // The default layout: the whole reference is the layout tag.
            let (name, tag, digest) = split_name(reference, reference)?;
            if !valid_repository(&name) {
                return Err(invalid(reference, &format!("name {name:?} is not valid")));
            }
            let version = match digest {
                Some(d) => Version::Digest(d),
                None => Version::Tag(format!("{name}:{}", tag.as_deref().unwrap_or("latest"))),
            };
            return Ok(ImageRef::Layout {
                path: default_layout.to_path_buf(),
                version: Some(version),
            });
        }
        let rest = &reference[first.len() + 1..];
        let (repository, tag, digest) = split_name(rest, reference)?;
        if !valid_repository(&repository) {
            return Err(invalid(
                reference,
                &format!(
                    "repository {repository:?} is not valid (lowercase letters, digits, . _ - and /)"
                ),
            ));
        }
        Ok(ImageRef::Registry(RegistryRef {
            registry: first.to_string(),
            repository,
            tag,
            digest,
        }))
    }

    /// The same reference with another version (tag or digest).
    pub fn with_version(&self, version: Version) -> Self {
        match self {
            ImageRef::Layout { path, .. } => ImageRef::Layout {
                path: path.clone(),
                version: Some(version),
            },
            ImageRef::Registry(r) => {
                let mut r = r.clone();
                match version {
                    Version::Tag(t) => {
                        r.tag = Some(t);
                        r.digest = None;
                    }
                    Version::Digest(d) => r.digest = Some(d),
                }
                ImageRef::Registry(r)
            }
        }
    }

    /// The identity written into signatures (`docker-reference`): the repository for registries,
    /// the layout tag's name for layouts.
    pub fn signing_identity(&self) -> String {
        match self {
            ImageRef::Registry(r) => r.repository_name(),
            ImageRef::Layout { path, version } => match version {
                Some(Version::Tag(t)) => match t.rsplit_once(':') {
                    Some((name, _)) if !name.is_empty() => name.to_string(),
                    _ => format!("oci:{}", path.display()),
                },
                _ => format!("oci:{}", path.display()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageRef {
        ImageRef::parse(s, Path::new("/data/images")).unwrap()
    }

    #[test]
    fn registry_references() {
        let d = Digest::sha256_of(b"x");
        let r = parse(&format!("127.0.0.1:5000/demo/app:v1@{d}"));
        assert_eq!(
            r,
            ImageRef::Registry(RegistryRef {
                registry: "127.0.0.1:5000".into(),
                repository: "demo/app".into(),
                tag: Some("v1".into()),
                digest: Some(d.clone()),
            })
        );
        let ImageRef::Registry(r) = parse("ghcr.io/org/app") else {
            panic!()
        };
        assert_eq!(r.version(), Version::Tag("latest".into()));
        assert_eq!(r.to_string(), "ghcr.io/org/app");
        let ImageRef::Registry(r) = parse("localhost/app:1.0") else {
            panic!()
        };
        assert_eq!(r.repository_name(), "localhost/app");
        assert!(ImageRef::parse("ghcr.io/Org/app", Path::new("/d")).is_err());
        assert!(ImageRef::parse("ghcr.io/org/app:bad tag", Path::new("/d")).is_err());
        assert!(ImageRef::parse("https://ghcr.io/x", Path::new("/d")).is_err());
    }

    #[test]
    fn layout_references() {
        assert_eq!(
            parse("oci:/tmp/l:v1"),
            ImageRef::Layout {
                path: "/tmp/l".into(),
                version: Some(Version::Tag("v1".into()))
            }
        );
        assert_eq!(
            parse("oci:./dir"),
            ImageRef::Layout {
                path: "./dir".into(),
                version: None
            }
        );
        let d = Digest::sha256_of(b"y");
        assert_eq!(
            parse(&format!("oci:l@{d}")),
            ImageRef::Layout {
                path: "l".into(),
                version: Some(Version::Digest(d))
            }
        );
        // A bare name is a tag in the default layout.
        let r = parse("myapp");
        assert_eq!(
            r,
            ImageRef::Layout {
                path: "/data/images".into(),
                version: Some(Version::Tag("myapp:latest".into()))
            }
        );
        assert_eq!(r.signing_identity(), "myapp");
        assert!(ImageRef::parse("oci:", Path::new("/d")).is_err());
    }
}
