//! Version ordering for every OSV ecosystem the scanner matches.
//!
//! Each ecosystem has its own total order (dpkg, apk, PEP 440, SemVer, Maven
//! `ComparableVersion`, ...). [`compare`] dispatches on the [`Ecosystem`];
//! invalid input is an error the matcher turns into "range not evaluable",
//! never a panic. Numbers are compared as digit strings so arbitrarily large
//! components (seen in real data) never overflow.

mod alpine;
mod check;
mod debian;
mod maven;
mod numeric;
mod others;
mod pypi;
mod semverlike;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

pub use alpine::{
    is_valid as alpine_is_valid, is_valid_feed_version as alpine_is_valid_feed_version,
};
pub use check::{CheckReport, Mismatch, check_comparisons};
pub use semverlike::go_is_valid;

/// A package ecosystem as named by OSV (`affected[].package.ecosystem`, base part only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    /// Debian (dpkg order).
    Debian,
    /// Ubuntu (dpkg order).
    Ubuntu,
    /// Alpine (apk order).
    Alpine,
    /// Wolfi (apk order).
    Wolfi,
    /// Chainguard (apk order).
    Chainguard,
    /// Python packages (PEP 440 plus legacy versions).
    PyPI,
    /// npm (node-semver, leniently).
    Npm,
    /// Rust crates (SemVer).
    CratesIo,
    /// Go modules (SemVer without the leading `v`).
    Go,
    /// Erlang/Elixir Hex (SemVer).
    Hex,
    /// Maven (`ComparableVersion`).
    Maven,
    /// RubyGems (`Gem::Version`).
    RubyGems,
    /// Packagist (PHP `version_compare` with Composer normalisation).
    Packagist,
    /// NuGet (SemVer with a 4th legacy component).
    NuGet,
    /// R packages.
    Cran,
    /// Dart/Flutter packages.
    Pub,
    /// Haskell packages.
    Hackage,
    /// RPM based distributions (rpmvercmp with epoch).
    RedHat,
    /// Rocky Linux (rpm order).
    RockyLinux,
    /// AlmaLinux (rpm order).
    AlmaLinux,
    /// SUSE (rpm order).
    Suse,
    /// openSUSE (rpm order).
    OpenSuse,
}

impl Ecosystem {
    /// Every ecosystem, for listings and help texts.
    pub const ALL: [Ecosystem; 22] = [
        Ecosystem::Debian,
        Ecosystem::Ubuntu,
        Ecosystem::Alpine,
        Ecosystem::Wolfi,
        Ecosystem::Chainguard,
        Ecosystem::PyPI,
        Ecosystem::Npm,
        Ecosystem::CratesIo,
        Ecosystem::Go,
        Ecosystem::Hex,
        Ecosystem::Maven,
        Ecosystem::RubyGems,
        Ecosystem::Packagist,
        Ecosystem::NuGet,
        Ecosystem::Cran,
        Ecosystem::Pub,
        Ecosystem::Hackage,
        Ecosystem::RedHat,
        Ecosystem::RockyLinux,
        Ecosystem::AlmaLinux,
        Ecosystem::Suse,
        Ecosystem::OpenSuse,
    ];

    /// The OSV spelling of the ecosystem (case-sensitive in OSV data).
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Debian => "Debian",
            Ecosystem::Ubuntu => "Ubuntu",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::Wolfi => "Wolfi",
            Ecosystem::Chainguard => "Chainguard",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Go => "Go",
            Ecosystem::Hex => "Hex",
            Ecosystem::Maven => "Maven",
            Ecosystem::RubyGems => "RubyGems",
            Ecosystem::Packagist => "Packagist",
            Ecosystem::NuGet => "NuGet",
            Ecosystem::Cran => "CRAN",
            Ecosystem::Pub => "Pub",
            Ecosystem::Hackage => "Hackage",
            Ecosystem::RedHat => "Red Hat",
            Ecosystem::RockyLinux => "Rocky Linux",
            Ecosystem::AlmaLinux => "AlmaLinux",
            Ecosystem::Suse => "SUSE",
            Ecosystem::OpenSuse => "openSUSE",
        }
    }

    /// Parse the base name of an OSV ecosystem string (`Debian:12` gives `Debian`).
    pub fn from_osv(s: &str) -> Option<Ecosystem> {
        let base = s.split_once(':').map_or(s, |(b, _)| b);
        Ecosystem::ALL.into_iter().find(|e| e.as_str() == base)
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ecosystem name that is not one the scanner knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ecosystem `{0}`")]
pub struct UnknownEcosystem(pub String);

impl FromStr for Ecosystem {
    type Err = UnknownEcosystem;

    /// Accepts the OSV spelling and, for convenience on the command line, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ecosystem::from_osv(s)
            .or_else(|| {
                Ecosystem::ALL
                    .into_iter()
                    .find(|e| e.as_str().eq_ignore_ascii_case(s))
            })
            .ok_or_else(|| UnknownEcosystem(s.to_owned()))
    }
}

/// A version string the ecosystem's grammar rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {ecosystem} version `{version}`: {reason}")]
pub struct VersionError {
    /// Ecosystem whose rules were applied.
    pub ecosystem: Ecosystem,
    /// The offending version string.
    pub version: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl VersionError {
    pub(crate) fn new(ecosystem: Ecosystem, version: &str, reason: &'static str) -> Self {
        VersionError {
            ecosystem,
            version: version.to_owned(),
            reason,
        }
    }
}

/// Compare two versions under the ordering of `ecosystem`.
///
/// # Errors
/// When either version is invalid for an ecosystem whose order is undefined on
/// invalid input (Debian, Hackage); the other ecosystems order every string, the
/// way their reference tools do.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    match ecosystem {
        Ecosystem::Debian | Ecosystem::Ubuntu => debian::compare(ecosystem, a, b),
        Ecosystem::Alpine | Ecosystem::Wolfi | Ecosystem::Chainguard => Ok(alpine::compare(a, b)),
        Ecosystem::PyPI => Ok(pypi::compare(a, b)),
        Ecosystem::Npm | Ecosystem::CratesIo | Ecosystem::Go | Ecosystem::Hex => {
            Ok(semverlike::compare_semver(a, b))
        }
        Ecosystem::NuGet => Ok(semverlike::compare_nuget(a, b)),
        Ecosystem::Pub => Ok(semverlike::compare_pub(a, b)),
        Ecosystem::Hackage => semverlike::compare_hackage(a, b),
        Ecosystem::Maven => Ok(maven::compare(a, b)),
        Ecosystem::RubyGems => Ok(others::compare_rubygems(a, b)),
        Ecosystem::Packagist => Ok(others::compare_packagist(a, b)),
        Ecosystem::Cran => Ok(others::compare_cran(a, b)),
        Ecosystem::RedHat
        | Ecosystem::RockyLinux
        | Ecosystem::AlmaLinux
        | Ecosystem::Suse
        | Ecosystem::OpenSuse => Ok(others::compare_rpm(a, b)),
    }
}

#[cfg(test)]
mod tests;
