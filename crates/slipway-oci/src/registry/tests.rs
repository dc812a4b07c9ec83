use super::*;
use bytes::Bytes;
use serde_json::json;

#[test]
fn challenge_parsing() {
    let c = parse_challenge(
        r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
    );
    assert_eq!(c.scheme, "bearer");
    assert_eq!(c.params["realm"], "https://auth.example/token");
    assert_eq!(c.params["service"], "registry.example");
    assert_eq!(c.params["scope"], "repository:a/b:pull,push");
    let c = parse_challenge(r#"Basic realm="basic-realm""#);
    assert_eq!(c.scheme, "basic");
    assert_eq!(c.params["realm"], "basic-realm");
}

#[test]
fn loopback_only_for_plain_http() {
    assert!(is_loopback("127.0.0.1:5000"));
    assert!(is_loopback("localhost"));
    assert!(is_loopback("[::1]:5000"));
    assert!(!is_loopback("registry.example:5000"));
    let opts = RegistryOptions {
        insecure: true,
        ..Default::default()
    };
    assert!(matches!(
        Registry::new("example.com", &opts),
        Err(RegistryError::InsecureNotLoopback(_))
    ));
    assert!(Registry::new("127.0.0.1:5000", &opts).is_ok());
}

/// A small in-process registry for what Debian's distribution 2.8 lacks: Bearer-token
/// authentication and the referrers API. It keeps blobs and manifests in memory, serves
/// them by digest and tag, and can be told to answer a tag with tampered bytes.
mod fake {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};

    use crate::digest::Digest;

    #[derive(Default)]
    pub struct State {
        pub blobs: HashMap<String, Vec<u8>>,
        /// digest -> (media type, bytes)
        pub manifests: HashMap<String, (String, Vec<u8>)>,
        pub tags: HashMap<String, String>,
        pub uploads: HashMap<String, Vec<u8>>,
        pub tamper_tag: Option<String>,
        pub token_requests: Vec<String>,
        pub next_upload: usize,
    }

    pub struct Fake {
        pub addr: String,
        pub state: Arc<Mutex<State>>,
    }

    const TOKEN: &str = "tok-123";

    pub fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let (s, a) = (state.clone(), addr.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, a) = (s.clone(), a.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &s, &a);
                });
            }
        });
        Fake { addr, state }
    }

    fn respond(
        stream: &mut TcpStream,
        status: u16,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> std::io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)
    }

    fn serve(mut stream: TcpStream, state: &Mutex<State>, addr: &str) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));

        if path == "/token" {
            // Only the right basic credentials get a token.
            let ok = headers.get("authorization").map(String::as_str)
                == Some(&format!(
                    "Basic {}",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        "alice:secret"
                    )
                ));
            state.lock().unwrap().token_requests.push(query.to_string());
            return if ok {
                respond(
                    &mut stream,
                    200,
                    &[],
                    json!({"token": TOKEN}).to_string().as_bytes(),
                )
            } else {
                respond(&mut stream, 401, &[], b"{}")
            };
        }
        if headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {TOKEN}")) {
            let challenge = format!(
                r#"Bearer realm="http://{addr}/token",service="fake",scope="repository:demo/app:pull,push""#
            );
            return respond(&mut stream, 401, &[("WWW-Authenticate", challenge)], b"");
        }
        let rest = path.strip_prefix("/v2/demo/app/").unwrap_or("");
        let mut st = state.lock().unwrap();
        if let Some(reference) = rest.strip_prefix("manifests/") {
            match method.as_str() {
                "PUT" => {
                    let digest = Digest::sha256_of(&body).to_string();
                    let media_type = headers.get("content-type").cloned().unwrap_or_default();
                    let has_subject = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .is_some_and(|v| v.get("subject").is_some());
                    st.manifests.insert(digest.clone(), (media_type, body));
                    if !reference.starts_with("sha256:") {
                        st.tags.insert(reference.to_string(), digest.clone());
                    }
                    let mut h = vec![("Docker-Content-Digest", digest.clone())];
                    if has_subject {
                        h.push(("OCI-Subject", digest));
                    }
                    return respond(&mut stream, 201, &h, b"");
                }
                _ => {
                    let digest = st
                        .tags
                        .get(reference)
                        .cloned()
                        .unwrap_or_else(|| reference.to_string());
                    let Some((mt, bytes)) = st.manifests.get(&digest).cloned() else {
                        return respond(&mut stream, 404, &[], b"{}");
                    };
                    let mut bytes = bytes;
                    if st.tamper_tag.as_deref() == Some(reference) {
                        bytes.push(b' ');
                    }
                    let body: &[u8] = if method == "HEAD" { b"" } else { &bytes };
                    return respond(
                        &mut stream,
                        200,
                        &[("Content-Type", mt), ("Docker-Content-Digest", digest)],
                        body,
                    );
                }
            }
        }
        if let Some(digest) = rest.strip_prefix("referrers/") {
            let mut manifests = Vec::new();
            for (d, (mt, bytes)) in &st.manifests {
                let v: Value = serde_json::from_slice(bytes).unwrap_or_default();
                if v.pointer("/subject/digest").and_then(Value::as_str) == Some(digest) {
                    manifests.push(json!({"mediaType": mt, "digest": d, "size": bytes.len(), "artifactType": v.get("artifactType")}));
                }
            }
            let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
            return respond(
                &mut stream,
                200,
                &[(
                    "Content-Type",
                    "application/vnd.oci.image.index.v1+json".into(),
                )],
                index.to_string().as_bytes(),
            );
        }
        if rest == "blobs/uploads/" && method == "POST" {
            st.next_upload += 1;
            let id = st.next_upload.to_string();
            st.uploads.insert(id.clone(), Vec::new());
            return respond(
                &mut stream,
                202,
                &[("Location", format!("/v2/demo/app/blobs/uploads/{id}"))],
                b"",
            );
        }
        if let Some(id) = rest.strip_prefix("blobs/uploads/") {
            let Some(mut data) = st.uploads.remove(id) else {
                return respond(&mut stream, 404, &[], b"{}");
            };
            data.extend_from_slice(&body);
            if method == "PATCH" {
                st.uploads.insert(id.to_string(), data);
                return respond(
                    &mut stream,
                    202,
                    &[("Location", format!("/v2/demo/app/blobs/uploads/{id}"))],
                    b"",
                );
            }
            let digest = query
                .strip_prefix("digest=")
                .unwrap_or_default()
                .replace("%3A", ":");
            if Digest::sha256_of(&data).to_string() != digest {
                return respond(
                    &mut stream,
                    400,
                    &[],
                    b"{\"errors\":[{\"code\":\"DIGEST_INVALID\"}]}",
                );
            }
            st.blobs.insert(digest, data);
            return respond(&mut stream, 201, &[], b"");
        }
        if let Some(digest) = rest.strip_prefix("blobs/") {
            return match st.blobs.get(digest) {
                Some(b) if method == "HEAD" => respond(
                    &mut stream,
                    200,
                    &[("Content-Length-Ignored", b.len().to_string())],
                    b"",
                ),
                Some(b) => respond(&mut stream, 200, &[], &b.clone()),
                None => respond(&mut stream, 404, &[], b"{}"),
            };
        }
        respond(&mut stream, 404, &[], b"{}")
    }
}

#[test]
fn bearer_tokens_referrers_api_and_tampered_manifests() {
    let fake = fake::start();
    // Wrong credentials: the token endpoint refuses, and the error says so.
    let wrong = Registry::new(
        &fake.addr,
        &RegistryOptions {
            insecure: true,
            credentials: Some(Credentials {
                username: "alice".into(),
                password: "nope".into(),
            }),
            chunk_size: None,
        },
    )
    .unwrap();
    let err = wrong.get_manifest("demo/app", "v1").unwrap_err();
    assert!(matches!(err, RegistryError::Auth { .. }), "{err}");
    assert!(err.to_string().contains("token endpoint"), "{err}");

    let client = Registry::new(
        &fake.addr,
        &RegistryOptions {
            insecure: true,
            credentials: Some(Credentials {
                username: "alice".into(),
                password: "secret".into(),
            }),
            chunk_size: Some(1000),
        },
    )
    .unwrap();
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    let digest = Digest::sha256_of(&data);
    assert!(
        client
            .put_blob("demo/app", &digest, Bytes::from(data.clone()))
            .unwrap()
    );
    assert_eq!(client.get_blob("demo/app", &digest).unwrap(), data);
    // The scope asked for is the challenge's; one token is reused for later requests.
    let requests = fake.state.lock().unwrap().token_requests.clone();
    assert!(requests[0].contains("service=fake"), "{requests:?}");
    assert!(
        requests[0].contains("scope=repository%3Ademo%2Fapp%3Apull%2Cpush"),
        "{requests:?}"
    );

    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest.to_string(), "size": data.len()},
        "layers": [],
    }))
    .unwrap();
    let (image, _) = client
        .put_manifest(
            "demo/app",
            "v1",
            &manifest,
            "application/vnd.oci.image.manifest.v1+json",
        )
        .unwrap();
    let artifact = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest.to_string(), "size": data.len()},
        "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image.to_string(), "size": manifest.len()},
    }))
    .unwrap();
    let art = client
        .push_referrer(
            "demo/app",
            &image,
            &artifact,
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.dev.sigstore.bundle.v0.3+json",
        )
        .unwrap();
    // The registry processed the subject: no fallback tag was written.
    assert!(
        !fake
            .state
            .lock()
            .unwrap()
            .tags
            .contains_key(&image.tag(None))
    );
    let refs = client.referrers("demo/app", &image).unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0]["digest"], art.to_string());

    // A registry answering a tag with bytes that do not match the digest it claims.
    fake.state.lock().unwrap().tamper_tag = Some("v1".into());
    let err = client.get_manifest("demo/app", "v1").unwrap_err();
    assert!(matches!(err, RegistryError::Digest { .. }), "{err}");
    // By digest the check needs no header.
    fake.state.lock().unwrap().tamper_tag = Some(image.to_string());
    let err = client
        .get_manifest("demo/app", &image.to_string())
        .unwrap_err();
    assert!(matches!(err, RegistryError::Digest { .. }), "{err}");
}
