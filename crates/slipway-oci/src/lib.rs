//! `slipway-oci`: OCI image layouts and registries, reproducible image builds, and
//! cosign-compatible signing and verification (keys, keyless Sigstore bundles, legacy `.sig`
//! signatures). Engines never print; every error names what failed.

pub mod asn1;
pub mod build;
pub mod digest;
pub mod keys;
pub mod layout;
pub mod legacy;
pub mod reference;
pub mod registry;
pub mod sigstore;
pub mod store;
