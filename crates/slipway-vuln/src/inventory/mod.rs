//! Package inventory: what is installed, from lockfiles, distro package
//! databases and SBOMs. Every extractor returns packages with the file (and,
//! where the format allows, the line) they came from; a malformed input is an
//! [`InventoryError`] naming the file and line, and [`scan_dir`] carries on with
//! the other files, listing what it skipped.

mod apk;
mod dpkg;
mod gomod;
mod image;
mod js;
mod misc;
mod pnpm;
mod python;
mod rust;
mod sbom;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use apk::parse_apk_installed;
pub use dpkg::{DpkgOptions, parse_dpkg_status};
pub use gomod::parse_go_mod;
pub use image::{is_oci_layout, scan_oci_layout};
pub use js::{parse_package_lock, parse_yarn_lock};
pub use misc::{parse_composer_lock, parse_gemfile_lock};
pub use pnpm::parse_pnpm_lock;
pub use python::{parse_pipfile_lock, parse_poetry_lock, parse_requirements};
pub use rust::parse_cargo_lock;
pub use sbom::{package_from_purl, parse_cyclonedx_json, parse_cyclonedx_xml, parse_spdx_json};

/// Largest file an extractor reads; bigger files are skipped with an error
/// instead of exhausting memory.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// `/etc/os-release` fields that decide a distro package's OSV ecosystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OsRelease {
    /// `ID` (debian, ubuntu, alpine).
    pub id: String,
    /// `VERSION_ID` (12, 22.04, 3.18.4).
    pub version_id: String,
    /// `VERSION_CODENAME` (bookworm).
    pub version_codename: String,
}

impl OsRelease {
    /// Parse `KEY=value` lines (values optionally quoted).
    pub fn parse(text: &str) -> Self {
        let mut r = OsRelease::default();
        for line in text.lines() {
            let Some((k, v)) = line.trim().split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"').trim_matches('\'').to_owned();
            match k.trim() {
                "ID" => r.id = v,
                "VERSION_ID" => r.version_id = v,
                "VERSION_CODENAME" => r.version_codename = v,
                _ => {}
            }
        }
        r
    }

    /// The OSV ecosystem for packages of this distribution (`Debian:12`,
    /// `Ubuntu:22.04:LTS`, `Alpine:v3.18`), falling back to `fallback`.
    pub fn osv_ecosystem(&self, fallback: &str) -> String {
        match self.id.as_str() {
            "debian" if !self.version_id.is_empty() => {
                let major = self.version_id.split('.').next().unwrap_or("");
                format!("Debian:{major}")
            }
            "ubuntu" if !self.version_id.is_empty() => {
                // LTS releases are the even-year April ones.
                let lts = self
                    .version_id
                    .split_once('.')
                    .is_some_and(|(y, m)| m == "04" && y.parse::<u32>().is_ok_and(|y| y % 2 == 0));
                if lts {
                    format!("Ubuntu:{}:LTS", self.version_id)
                } else {
                    format!("Ubuntu:{}", self.version_id)
                }
            }
            "alpine" if !self.version_id.is_empty() => {
                let mut parts = self.version_id.split('.');
                let major = parts.next().unwrap_or("");
                let minor = parts.next().unwrap_or("0");
                format!("Alpine:v{major}.{minor}")
            }
            _ => fallback.to_owned(),
        }
    }
}

/// One installed package.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Name as installed (binary package name for distros).
    pub name: String,
    /// Version as installed (empty when unknown).
    pub version: String,
    /// Full OSV ecosystem (`npm`, `Debian:12`).
    pub ecosystem: String,
    /// Package URL.
    pub purl: String,
    /// File the package was found in.
    pub source_file: String,
    /// 1-based line of the entry, when the format has lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Source package (dpkg `Source:`, apk origin), the OSV lookup name for distros.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source package version when it differs from the binary's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Dependency groups (`dev`, `optional`, `bundled`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dep_groups: Vec<String>,
    /// Commit of a git dependency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The original requirement line (requirements.txt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// dpkg status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Architecture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Transitional/dummy package: present in the db, but its contents are not.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub component_not_present: bool,
    /// Distribution the package belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<OsRelease>,
}

impl Package {
    pub(crate) fn new(name: &str, version: &str, ecosystem: &str, file: &Path) -> Self {
        Package {
            name: name.to_owned(),
            version: version.to_owned(),
            ecosystem: ecosystem.to_owned(),
            purl: String::new(),
            source_file: file.display().to_string(),
            ..Package::default()
        }
    }

    /// Name to look up in OSV data: the source package for distros.
    pub fn lookup_name(&self) -> &str {
        self.source_name.as_deref().unwrap_or(&self.name)
    }

    /// Version to match: the source version when the source package has its own.
    pub fn lookup_version(&self) -> &str {
        self.source_version.as_deref().unwrap_or(&self.version)
    }
}

/// An input that could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Reading failed.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{path}: file is {size} bytes, over the {MAX_FILE_BYTES} byte limit")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The content is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl InventoryError {
    pub(crate) fn malformed(path: &Path, line: usize, message: impl Into<String>) -> Self {
        InventoryError::Malformed {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// Read a file with the size limit applied.
pub(crate) fn read_text(path: &Path) -> Result<String, InventoryError> {
    let io = |source| InventoryError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = fs_err::metadata(path).map_err(io)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(InventoryError::TooLarge {
            path: path.to_owned(),
            size: meta.len(),
        });
    }
    let bytes = fs_err::read(path).map_err(io)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The extractor that applies to a file name, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Cargo.lock
    CargoLock,
    /// package-lock.json / npm-shrinkwrap.json
    PackageLock,
    /// yarn.lock
    YarnLock,
    /// pnpm-lock.yaml
    PnpmLock,
    /// requirements*.txt
    Requirements,
    /// poetry.lock
    PoetryLock,
    /// Pipfile.lock
    PipfileLock,
    /// go.mod
    GoMod,
    /// Gemfile.lock
    GemfileLock,
    /// composer.lock
    ComposerLock,
    /// dpkg status / status.d entry
    DpkgStatus,
    /// apk installed db
    ApkInstalled,
    /// CycloneDX JSON (`*.cdx.json`, `bom.json`)
    CycloneDxJson,
    /// CycloneDX XML (`*.cdx.xml`, `bom.xml`)
    CycloneDxXml,
    /// SPDX JSON (`*.spdx.json`)
    SpdxJson,
}

/// Recognise an input by its path.
pub fn kind_of(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_str()?;
    let s = path.to_string_lossy();
    Some(match name {
        "Cargo.lock" => Kind::CargoLock,
        "package-lock.json" | "npm-shrinkwrap.json" => Kind::PackageLock,
        "yarn.lock" => Kind::YarnLock,
        "pnpm-lock.yaml" => Kind::PnpmLock,
        "poetry.lock" => Kind::PoetryLock,
        "Pipfile.lock" => Kind::PipfileLock,
        "go.mod" => Kind::GoMod,
        "Gemfile.lock" | "gems.locked" => Kind::GemfileLock,
        "composer.lock" => Kind::ComposerLock,
        "bom.json" => Kind::CycloneDxJson,
        "bom.xml" => Kind::CycloneDxXml,
        "installed" if s.ends_with("lib/apk/db/installed") => Kind::ApkInstalled,
        "status" if s.ends_with("var/lib/dpkg/status") => Kind::DpkgStatus,
        _ if name.ends_with(".cdx.json") => Kind::CycloneDxJson,
        _ if name.ends_with(".cdx.xml") => Kind::CycloneDxXml,
        _ if name.ends_with(".spdx.json") => Kind::SpdxJson,
        _ if s.contains("var/lib/dpkg/status.d/") && !name.contains('.') => Kind::DpkgStatus,
        _ if name.ends_with(".txt") && name.starts_with("requirements") => Kind::Requirements,
        _ => return None,
    })
}

/// Extract packages from one file of a known kind. `os` is the distribution's
/// os-release, used for distro databases and nothing else.
///
/// # Errors
/// When the file cannot be read or is malformed.
pub fn extract(
    kind: Kind,
    path: &Path,
    os: Option<&OsRelease>,
) -> Result<Vec<Package>, InventoryError> {
    match kind {
        Kind::CargoLock => parse_cargo_lock(path, &read_text(path)?),
        Kind::PackageLock => parse_package_lock(path, &read_text(path)?),
        Kind::YarnLock => parse_yarn_lock(path, &read_text(path)?),
        Kind::PnpmLock => parse_pnpm_lock(path, &read_text(path)?),
        Kind::Requirements => parse_requirements(path),
        Kind::PoetryLock => parse_poetry_lock(path, &read_text(path)?),
        Kind::PipfileLock => parse_pipfile_lock(path, &read_text(path)?),
        Kind::GoMod => parse_go_mod(path, &read_text(path)?),
        Kind::GemfileLock => parse_gemfile_lock(path, &read_text(path)?),
        Kind::ComposerLock => parse_composer_lock(path, &read_text(path)?),
        Kind::DpkgStatus => parse_dpkg_status(path, &read_text(path)?, os, DpkgOptions::default()),
        Kind::ApkInstalled => parse_apk_installed(path, &read_text(path)?, os),
        Kind::CycloneDxJson => parse_cyclonedx_json(path, &read_text(path)?),
        Kind::CycloneDxXml => parse_cyclonedx_xml(path, &read_text(path)?),
        Kind::SpdxJson => parse_spdx_json(path, &read_text(path)?),
    }
}

/// Everything found under a directory (or in one file).
#[derive(Debug, Default)]
pub struct Inventory {
    /// Packages found.
    pub packages: Vec<Package>,
    /// Inputs that could not be used; the rest was still scanned.
    pub skipped: Vec<InventoryError>,
}

/// Walk `root` (a directory, a root filesystem or a single file) and extract
/// every recognised input. Malformed files are recorded in
/// [`Inventory::skipped`] and the walk continues.
pub fn scan_path(root: &Path) -> Inventory {
    let mut inv = Inventory::default();
    if root.is_file() {
        let kind = kind_of(root).or_else(|| sniff(root));
        match kind {
            Some(k) => match extract(k, root, None) {
                Ok(p) => inv.packages.extend(p),
                Err(e) => inv.skipped.push(e),
            },
            None => inv.skipped.push(InventoryError::malformed(
                root,
                0,
                "not a recognised lockfile, package database or SBOM",
            )),
        }
        return inv;
    }
    let os = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| fs_err::read_to_string(root.join(p)).ok())
        .map(|t| OsRelease::parse(&t));
    let mut stack = vec![root.to_owned()];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                let name = entry.file_name();
                let skip = matches!(
                    name.to_str(),
                    Some(".git" | "node_modules" | "target" | "proc" | "sys")
                );
                if !skip {
                    stack.push(path);
                }
            } else if ft.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    for path in files {
        let Some(kind) = kind_of(&path) else { continue };
        match extract(kind, &path, os.as_ref()) {
            Ok(p) => inv.packages.extend(p),
            Err(e) => inv.skipped.push(e),
        }
    }
    inv
}

/// Inventory a scan target: an OCI image layout directory, a directory (a
/// project or a root filesystem), or one file (lockfile, package database, SBOM).
///
/// # Errors
/// When the target does not exist, or an image layout cannot be read.
pub fn inventory_target(target: &Path) -> Result<Inventory, InventoryError> {
    if !target.exists() {
        return Err(InventoryError::Io {
            path: target.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    }
    if target.is_dir() && is_oci_layout(target) {
        return scan_oci_layout(target);
    }
    Ok(scan_path(target))
}

/// Guess the kind of a single file given by the user under another name.
fn sniff(path: &Path) -> Option<Kind> {
    let text = read_text(path).ok()?;
    let head = text.trim_start();
    if head.starts_with('<') && head.contains("cyclonedx") {
        Some(Kind::CycloneDxXml)
    } else if head.starts_with('{') && head.contains("\"bomFormat\"") {
        Some(Kind::CycloneDxJson)
    } else if head.starts_with('{') && head.contains("\"spdxVersion\"") {
        Some(Kind::SpdxJson)
    } else {
        None
    }
}

/// Build a purl `pkg:TYPE/NAMESPACE/NAME@VERSION` (minimal escaping of `@`).
pub(crate) fn purl(kind: &str, name: &str, version: &str) -> String {
    let name = name.replace('@', "%40");
    if version.is_empty() {
        format!("pkg:{kind}/{name}")
    } else {
        format!("pkg:{kind}/{name}@{version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_file_is_reported_with_line_and_the_rest_is_scanned() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(
            dir.path().join("Cargo.lock"),
            "[[package]]\nname = \"a\"\nversion = \n",
        )
        .unwrap();
        let sub = dir.path().join("web");
        std::fs::create_dir(&sub).unwrap();
        fs_err::write(
            sub.join("package-lock.json"),
            r#"{"lockfileVersion":3,"packages":{"":{},"node_modules/x":{"version":"1.0.0"}}}"#,
        )
        .unwrap();
        let inv = scan_path(dir.path());
        assert_eq!(inv.packages.len(), 1);
        assert_eq!(inv.packages[0].name, "x");
        assert_eq!(inv.skipped.len(), 1);
        let msg = inv.skipped[0].to_string();
        assert!(msg.contains("Cargo.lock:3:"), "{msg}");
    }

    #[test]
    fn os_release_maps_to_osv_ecosystems() {
        let os = |t: &str| OsRelease::parse(t).osv_ecosystem("?");
        assert_eq!(os("ID=debian\nVERSION_ID=\"12\""), "Debian:12");
        assert_eq!(os("ID=ubuntu\nVERSION_ID=\"22.04\""), "Ubuntu:22.04:LTS");
        assert_eq!(os("ID=alpine\nVERSION_ID=3.18.4"), "Alpine:v3.18");
    }
}
