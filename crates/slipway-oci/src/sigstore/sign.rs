//! Writing Sigstore v0.3 bundles with a managed key, as `cosign sign --key` and
//! `cosign attest --key` do with the new bundle format and no transparency log upload:
//! a DSSE envelope over an in-toto v1 statement whose subject is the image digest.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::digest::Digest;
use crate::keys::{KeyError, SigningKey};
use crate::sigstore::bundle::{IN_TOTO_PAYLOAD_TYPE, pae};

pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The predicate type of `cosign sign` (v3) image signatures.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
pub const IN_TOTO_STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";

/// An in-toto v1 statement about `digest` (subject with the digest only, as cosign writes).
pub fn statement(digest: &Digest, predicate_type: &str, predicate: Value) -> Value {
    json!({
        "_type": IN_TOTO_STATEMENT_V1,
        "subject": [{"digest": {"sha256": digest.hex()}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    })
}

/// A key-signed v0.3 bundle with a DSSE envelope around `statement`.
pub fn dsse_bundle(key: &SigningKey, statement: &Value) -> Result<Vec<u8>, KeyError> {
    let payload =
        serde_json::to_vec(statement).map_err(|e| KeyError::BadEnvelope(e.to_string()))?;
    let sig = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &payload))?;
    let bundle = json!({
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": key.public_key().hint()},
            "tlogEntries": [],
        },
        "dsseEnvelope": {
            "payload": B64.encode(&payload),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": B64.encode(sig), "keyid": ""}],
        },
    });
    serde_json::to_vec(&bundle).map_err(|e| KeyError::BadEnvelope(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigstore::bundle::{Artifact, Options, Policy, verify_bundle};
    use crate::sigstore::trust::TrustedRoot;

    #[test]
    fn key_signed_bundle_verifies_for_its_digest_only() {
        let key = SigningKey::generate().unwrap();
        let digest = Digest::sha256_of(b"manifest");
        let bundle =
            dsse_bundle(&key, &statement(&digest, COSIGN_SIGN_PREDICATE, json!({}))).unwrap();
        let policy = Policy::Key {
            key: key.public_key(),
            validity: None,
        };
        let opts = Options {
            tlog_threshold: 0,
            require_sct: false,
            ..Options::default()
        };
        let root = TrustedRoot::default();
        let v = verify_bundle(
            &bundle,
            Artifact::Sha256(digest.bytes()),
            &root,
            &policy,
            &opts,
        )
        .unwrap();
        assert_eq!(v.statement.unwrap()["predicateType"], COSIGN_SIGN_PREDICATE);
        let other = Digest::sha256_of(b"other");
        assert!(
            verify_bundle(
                &bundle,
                Artifact::Sha256(other.bytes()),
                &root,
                &policy,
                &opts
            )
            .is_err()
        );
        let wrong = Policy::Key {
            key: SigningKey::generate().unwrap().public_key(),
            validity: None,
        };
        assert!(
            verify_bundle(
                &bundle,
                Artifact::Sha256(digest.bytes()),
                &root,
                &wrong,
                &opts
            )
            .is_err()
        );
        // Truncated bundles are errors, never passes.
        assert!(
            verify_bundle(
                &bundle[..bundle.len() / 2],
                Artifact::Sha256(digest.bytes()),
                &root,
                &policy,
                &opts
            )
            .is_err()
        );
    }
}
