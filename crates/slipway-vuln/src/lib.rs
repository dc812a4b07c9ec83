//! Vulnerability scanning against OSV advisories: per-ecosystem version order,
//! the OSV range algorithm, CVSS scoring, package inventory from lockfiles and
//! distro databases, and the offline advisory database.
//!
//! Engines here never print and never touch the network.

pub mod cvss;
pub mod db;
pub mod inventory;
pub mod matching;
pub mod osv;
pub mod report;
pub mod scan;
pub mod triage;
pub mod version;
