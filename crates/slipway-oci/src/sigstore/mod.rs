//! Sigstore verification: trusted roots, certificates, transparency logs, RFC 3161
//! timestamps and bundles.

pub mod bundle;
pub mod cert;
pub mod identity;
pub mod sign;
pub mod tlog;
pub mod trust;
pub mod tsa;
