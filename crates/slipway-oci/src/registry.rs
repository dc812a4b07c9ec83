//! A client for OCI distribution registries (blocking reqwest with rustls): manifests, indexes,
//! blobs (monolithic and chunked uploads), Bearer-token and basic authentication, plain HTTP
//! only for loopback registries with `insecure`, the referrers API with the `sha256-<hex>` tag
//! fallback. Every manifest and blob read is checked against its digest.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use serde_json::{Value, json};
use thiserror::Error;

use crate::digest::{Digest, DigestError};
use crate::layout::INDEX_MEDIA_TYPE;

/// Media types a manifest GET accepts.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Registry errors.
#[derive(Debug, Error)]
pub enum RegistryError {
    #[error(
        "plain http is only allowed for loopback registries, not {0} (hint: use https, or --insecure with 127.0.0.1/localhost)"
    )]
    InsecureNotLoopback(String),
    #[error("{method} {url}")]
    Http {
        method: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {url}: registry answered {status}: {body}")]
    Status {
        method: String,
        url: String,
        status: u16,
        body: String,
    },
    #[error("{what} not found at {url}")]
    NotFound { what: String, url: String },
    #[error("authentication with {registry} failed: {reason}")]
    Auth { registry: String, reason: String },
    #[error("{url} returned content that does not match its digest")]
    Digest {
        url: String,
        #[source]
        source: DigestError,
    },
    #[error("{url}: {reason}")]
    Protocol { url: String, reason: String },
}

/// Username and password (or token) for a registry.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// How to talk to a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Plain HTTP (allowed for loopback hosts only).
    pub insecure: bool,
    pub credentials: Option<Credentials>,
    /// Upload blobs larger than this in PATCH chunks of this size (`None`: one PUT).
    pub chunk_size: Option<usize>,
}

/// A manifest as fetched: exact bytes, media type and verified digest.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

/// A registry host.
#[derive(Debug)]
pub struct Registry {
    http: Client,
    /// `https://host` or `http://host`.
    base: String,
    host: String,
    credentials: Option<Credentials>,
    chunk_size: Option<usize>,
    /// Authorization header values per scope (`repository:NAME:pull` ...).
    auth: Mutex<HashMap<String, String>>,
}

/// Whether a `host[:port]` is a loopback address.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn install_tls_provider() {
    // reqwest is built with rustls and no provider: install ring process-wide once.
    // An Err means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Challenge {
    scheme: String,
    params: HashMap<String, String>,
}

/// Parses `Bearer realm="...",service="...",scope="..."` (or `Basic realm=...`).
fn parse_challenge(header: &str) -> Challenge {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(key, value.to_string());
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    }
}

impl Registry {
    /// A client for `host` (`docker.io` is Docker Hub's API host).
    pub fn new(host: &str, options: &RegistryOptions) -> Result<Self, RegistryError> {
        install_tls_provider();
        let scheme = if options.insecure {
            if !is_loopback(host) {
                return Err(RegistryError::InsecureNotLoopback(host.to_string()));
            }
            "http"
        } else {
            "https"
        };
        let api_host = if host == "docker.io" || host == "index.docker.io" {
            "registry-1.docker.io"
        } else {
            host
        };
        let http = Client::builder()
            .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
            .timeout(None)
            .connect_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|source| RegistryError::Http {
                method: "CONNECT".into(),
                url: api_host.to_string(),
                source,
            })?;
        Ok(Self {
            http,
            base: format!("{scheme}://{api_host}"),
            host: host.to_string(),
            credentials: options.credentials.clone(),
            chunk_size: options.chunk_size,
            auth: Mutex::new(HashMap::new()),
        })
    }

    /// The host as given.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request, answering one authentication challenge for `scope` if needed.
    fn send(
        &self,
        method: &str,
        url: &str,
        scope: &str,
        build: &dyn Fn() -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let cached = self.auth.lock().ok().and_then(|m| m.get(scope).cloned());
        let attempt = |auth: Option<&str>| {
            let mut req = build();
            if let Some(a) = auth {
                req = req.header(AUTHORIZATION, a);
            }
            req.send().map_err(|source| RegistryError::Http {
                method: method.to_string(),
                url: url.to_string(),
                source,
            })
        };
        let resp = attempt(cached.as_deref())?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .map(parse_challenge)
            .ok_or_else(|| RegistryError::Auth {
                registry: self.host.clone(),
                reason: format!("{method} {url} answered 401 without a WWW-Authenticate challenge"),
            })?;
        let header = self.authorize(&challenge, scope)?;
        if let Ok(mut m) = self.auth.lock() {
            m.insert(scope.to_string(), header.clone());
        }
        let resp = attempt(Some(&header))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(RegistryError::Auth {
                registry: self.host.clone(),
                reason: format!(
                    "{method} {url} still answered 401 after authenticating{}",
                    if self.credentials.is_none() {
                        " (no credentials given)"
                    } else {
                        " (check the credentials)"
                    }
                ),
            });
        }
        Ok(resp)
    }

    fn basic_header(&self) -> Option<String> {
        self.credentials.as_ref().map(|c| {
            format!(
                "Basic {}",
                B64.encode(format!("{}:{}", c.username, c.password))
            )
        })
    }

    /// Turns a challenge into an Authorization header value.
    fn authorize(&self, challenge: &Challenge, scope: &str) -> Result<String, RegistryError> {
        match challenge.scheme.as_str() {
            "basic" => self.basic_header().ok_or_else(|| RegistryError::Auth {
                registry: self.host.clone(),
                reason: "the registry wants basic authentication and no credentials were given (hint: --username/--password or SLIPWAY_REGISTRY_USERNAME/SLIPWAY_REGISTRY_PASSWORD)".into(),
            }),
            "bearer" => {
                let realm = challenge.params.get("realm").ok_or_else(|| RegistryError::Auth {
                    registry: self.host.clone(),
                    reason: "bearer challenge without realm".into(),
                })?;
                let mut query: Vec<(&str, &str)> = Vec::new();
                if let Some(service) = challenge.params.get("service") {
                    query.push(("service", service));
                }
                let scope = challenge
                    .params
                    .get("scope")
                    .map(String::as_str)
                    .unwrap_or(scope);
                query.push(("scope", scope));
                let mut token_url = reqwest::Url::parse(realm).map_err(|e| RegistryError::Auth {
                    registry: self.host.clone(),
                    reason: format!("token realm {realm:?} is not a url: {e}"),
                })?;
                token_url.query_pairs_mut().extend_pairs(&query);
                let mut req = self.http.get(token_url);
                if let Some(h) = self.basic_header() {
                    req = req.header(AUTHORIZATION, h);
                }
                let resp = req.send().map_err(|source| RegistryError::Http {
                    method: "GET".into(),
                    url: realm.clone(),
                    source,
                })?;
                if !resp.status().is_success() {
                    return Err(RegistryError::Auth {
                        registry: self.host.clone(),
                        reason: format!("token endpoint {realm} answered {}", resp.status().as_u16()),
                    });
                }
                let body: Value = resp.json_value(realm)?;
                let token = body
                    .get("token")
                    .or_else(|| body.get("access_token"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| RegistryError::Auth {
                        registry: self.host.clone(),
                        reason: format!("token endpoint {realm} returned no token"),
                    })?;
                Ok(format!("Bearer {token}"))
            }
            other => Err(RegistryError::Auth {
                registry: self.host.clone(),
                reason: format!("unsupported authentication scheme {other:?}"),
            }),
        }
    }

    fn check(
        &self,
        method: &str,
        url: &str,
        resp: Response,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        if status == StatusCode::NOT_FOUND
            && method != "PUT"
            && method != "POST"
            && method != "PATCH"
        {
            return Err(RegistryError::NotFound {
                what: what.to_string(),
                url: url.to_string(),
            });
        }
        let body = resp.text().unwrap_or_default();
        Err(RegistryError::Status {
            method: method.to_string(),
            url: url.to_string(),
            status: status.as_u16(),
            body: body.chars().take(500).collect(),
        })
    }

    fn pull_scope(repo: &str) -> String {
        format!("repository:{repo}:pull")
    }

    fn push_scope(repo: &str) -> String {
        format!("repository:{repo}:pull,push")
    }

    /// Checks the registry answers the v2 API (authenticating if it asks).
    pub fn ping(&self) -> Result<(), RegistryError> {
        let url = self.url("/v2/");
        let resp = self.send("GET", &url, "", &|| self.http.get(&url))?;
        self.check("GET", &url, resp, "registry API").map(|_| ())
    }

    /// Fetches a manifest by tag or digest, checking its digest.
    pub fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<FetchedManifest, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let resp = self.send("GET", &url, &Self::pull_scope(repo), &|| {
            self.http.get(&url).header(ACCEPT, MANIFEST_ACCEPT)
        })?;
        let resp = self.check("GET", &url, resp, &format!("manifest {repo}:{reference}"))?;
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        let header_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_string());
        let bytes = resp.bytes().map_err(|source| RegistryError::Http {
            method: "GET".into(),
            url: url.clone(),
            source,
        })?;
        let digest = Digest::sha256_of(&bytes);
        // By digest: the content must hash to it. By tag: to the digest the registry claims.
        let expected = reference
            .parse::<Digest>()
            .ok()
            .or_else(|| header_digest.and_then(|h| h.parse().ok()));
        if let Some(exp) = expected {
            exp.verify(&bytes).map_err(|source| RegistryError::Digest {
                url: url.clone(),
                source,
            })?;
        }
        let parsed: Value =
            serde_json::from_slice(&bytes).map_err(|e| RegistryError::Protocol {
                url: url.clone(),
                reason: format!("manifest is not json: {e}"),
            })?;
        let media_type = parsed
            .get("mediaType")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or(header_type)
            .unwrap_or_else(|| crate::layout::MANIFEST_MEDIA_TYPE.to_string());
        Ok(FetchedManifest {
            bytes: bytes.to_vec(),
            media_type,
            digest,
        })
    }

    /// Whether a manifest exists (HEAD).
    pub fn has_manifest(&self, repo: &str, reference: &str) -> Result<bool, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let resp = self.send("HEAD", &url, &Self::pull_scope(repo), &|| {
            self.http.head(&url).header(ACCEPT, MANIFEST_ACCEPT)
        })?;
        Ok(resp.status().is_success())
    }

    /// Uploads a manifest under a tag or its digest; returns its digest and whether the
    /// registry processed its `subject` (the `OCI-Subject` header of registries with referrers).
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<(Digest, bool), RegistryError> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let body = Bytes::copy_from_slice(bytes);
        let resp = self.send("PUT", &url, &Self::push_scope(repo), &|| {
            self.http
                .put(&url)
                .header(CONTENT_TYPE, media_type)
                .body(body.clone())
        })?;
        let resp = self.check("PUT", &url, resp, "manifest")?;
        let subject = resp.headers().contains_key("oci-subject");
        let digest = Digest::sha256_of(bytes);
        if let Some(claimed) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|h| h.to_str().ok())
            && claimed != digest.to_string()
        {
            return Err(RegistryError::Protocol {
                url,
                reason: format!("registry stored the manifest as {claimed}, expected {digest}"),
            });
        }
        Ok((digest, subject))
    }

    /// Whether a blob exists (HEAD).
    pub fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let resp = self.send("HEAD", &url, &Self::pull_scope(repo), &|| {
            self.http.head(&url)
        })?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => self.check("HEAD", &url, resp, "blob").map(|_| true),
        }
    }

    /// Fetches a blob and checks its digest.
    pub fn get_blob(&self, repo: &str, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let resp = self.send("GET", &url, &Self::pull_scope(repo), &|| {
            self.http.get(&url)
        })?;
        let resp = self.check("GET", &url, resp, &format!("blob {digest}"))?;
        let bytes = resp.bytes().map_err(|source| RegistryError::Http {
            method: "GET".into(),
            url: url.clone(),
            source,
        })?;
        digest
            .verify(&bytes)
            .map_err(|source| RegistryError::Digest { url, source })?;
        Ok(bytes.to_vec())
    }

    /// Resolves an upload `Location` (relative or absolute) and appends `digest`.
    fn location(&self, url: &str, resp: &Response) -> Result<String, RegistryError> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| RegistryError::Protocol {
                url: url.to_string(),
                reason: "upload response has no Location header".into(),
            })?;
        Ok(
            if loc.starts_with("http://") || loc.starts_with("https://") {
                loc.to_string()
            } else {
                self.url(loc)
            },
        )
    }

    /// Uploads a blob unless the registry has it; returns whether it was uploaded.
    pub fn put_blob(
        &self,
        repo: &str,
        digest: &Digest,
        data: Bytes,
    ) -> Result<bool, RegistryError> {
        if self.has_blob(repo, digest)? {
            return Ok(false);
        }
        digest
            .verify(&data)
            .map_err(|source| RegistryError::Digest {
                url: format!("upload of {digest}"),
                source,
            })?;
        let scope = Self::push_scope(repo);
        let start = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let resp = self.send("POST", &start, &scope, &|| {
            self.http.post(&start).header(CONTENT_LENGTH, 0)
        })?;
        let resp = self.check("POST", &start, resp, "upload")?;
        let mut location = self.location(&start, &resp)?;
        let chunked = self.chunk_size.filter(|c| *c > 0 && data.len() > *c);
        let final_body = if let Some(chunk) = chunked {
            let mut offset = 0usize;
            while offset < data.len() {
                let end = (offset + chunk).min(data.len());
                let part = data.slice(offset..end);
                let url = location.clone();
                let range = format!("{}-{}", offset, end - 1);
                let resp = self.send("PATCH", &url, &scope, &|| {
                    self.http
                        .patch(&url)
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .header("Content-Range", &range)
                        .body(part.clone())
                })?;
                let resp = self.check("PATCH", &url, resp, "upload chunk")?;
                location = self.location(&url, &resp)?;
                offset = end;
            }
            Bytes::new()
        } else {
            data
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let resp = self.send("PUT", &url, &scope, &|| {
            self.http
                .put(&url)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(final_body.clone())
        })?;
        self.check("PUT", &url, resp, "upload")?;
        Ok(true)
    }

    /// Tags of a repository.
    pub fn tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/tags/list"));
        let resp = self.send("GET", &url, &Self::pull_scope(repo), &|| {
            self.http.get(&url)
        })?;
        let resp = self.check("GET", &url, resp, &format!("repository {repo}"))?;
        let body: Value = resp.json_value(&url)?;
        Ok(body
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect())
    }

    /// The referrers of `digest`: the referrers API, or the `sha256-<hex>` index tag when the
    /// registry has no referrers API (404). Returns the index's descriptors.
    pub fn referrers(&self, repo: &str, digest: &Digest) -> Result<Vec<Value>, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/referrers/{digest}"));
        let resp = self.send("GET", &url, &Self::pull_scope(repo), &|| {
            self.http.get(&url).header(ACCEPT, INDEX_MEDIA_TYPE)
        })?;
        let is_index = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|t| t.starts_with(INDEX_MEDIA_TYPE));
        let index: Value = if resp.status().is_success() && is_index {
            resp.json_value(&url)?
        } else if resp.status() == StatusCode::NOT_FOUND || resp.status().is_success() {
            match self.get_manifest(repo, &digest.tag(None)) {
                Ok(m) => serde_json::from_slice(&m.bytes).map_err(|e| RegistryError::Protocol {
                    url: url.clone(),
                    reason: e.to_string(),
                })?,
                Err(RegistryError::NotFound { .. }) => json!({"manifests": []}),
                Err(e) => return Err(e),
            }
        } else {
            self.check("GET", &url, resp, "referrers")?;
            json!({"manifests": []})
        };
        Ok(index
            .get("manifests")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// Pushes a manifest with a `subject`; when the registry did not process the subject,
    /// adds it to the fallback `sha256-<hex>` index of the subject.
    pub fn push_referrer(
        &self,
        repo: &str,
        subject: &Digest,
        bytes: &[u8],
        media_type: &str,
        artifact_type: &str,
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::sha256_of(bytes);
        let (_, processed) = self.put_manifest(repo, &digest.to_string(), bytes, media_type)?;
        if processed {
            return Ok(digest);
        }
        let tag = subject.tag(None);
        let existing = match self.get_manifest(repo, &tag) {
            Ok(m) => m.bytes,
            Err(RegistryError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let index = fallback_index(
            &existing,
            &referrer_descriptor(bytes, media_type, artifact_type),
        );
        self.put_manifest(repo, &tag, &index, INDEX_MEDIA_TYPE)?;
        Ok(digest)
    }
}

/// The descriptor of a referrer manifest in a referrers index (with its `artifactType` and
/// annotations, as the referrers API lists them).
pub fn referrer_descriptor(bytes: &[u8], media_type: &str, artifact_type: &str) -> Value {
    let mut desc = json!({
        "mediaType": media_type,
        "digest": Digest::sha256_of(bytes).to_string(),
        "size": bytes.len(),
        "artifactType": artifact_type,
    });
    if let Some(a) = serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("annotations").cloned())
    {
        desc["annotations"] = a;
    }
    desc
}

/// The fallback referrers index (tag `sha256-<hex>`) with `desc` added: de-duplicated by
/// digest and sorted by digest, as go-containerregistry maintains it.
pub fn fallback_index(existing: &[u8], desc: &Value) -> Vec<u8> {
    let mut manifests: Vec<Value> = serde_json::from_slice::<Value>(existing)
        .ok()
        .and_then(|v| v.get("manifests").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    manifests.retain(|m| m.get("digest") != desc.get("digest"));
    manifests.push(desc.clone());
    manifests.sort_by(|a, b| {
        let key = |v: &Value| {
            v.get("digest")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        key(a).cmp(&key(b))
    });
    let index = json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": manifests});
    serde_json::to_vec(&index).unwrap_or_default()
}

trait JsonBody {
    fn json_value(self, url: &str) -> Result<Value, RegistryError>;
}

impl JsonBody for Response {
    fn json_value(self, url: &str) -> Result<Value, RegistryError> {
        let bytes = self.bytes().map_err(|source| RegistryError::Http {
            method: "GET".into(),
            url: url.to_string(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Protocol {
            url: url.to_string(),
            reason: format!("response is not json: {e}"),
        })
    }
}

/// Credentials for `host` from a Docker `config.json` (`auths.<host>.auth` or username/password).
pub fn docker_config_credentials(config: &[u8], host: &str) -> Option<Credentials> {
    let v: Value = serde_json::from_slice(config).ok()?;
    let auths = v.get("auths")?.as_object()?;
    let candidates = [
        host.to_string(),
        format!("https://{host}"),
        format!("http://{host}"),
        if host == "docker.io" {
            "https://index.docker.io/v1/".to_string()
        } else {
            String::new()
        },
    ];
    let entry = candidates.iter().find_map(|c| auths.get(c))?;
    if let Some(auth) = entry.get("auth").and_then(Value::as_str) {
        let decoded = String::from_utf8(B64.decode(auth).ok()?).ok()?;
        let (u, p) = decoded.split_once(':')?;
        return Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        });
    }
    Some(Credentials {
        username: entry.get("username")?.as_str()?.to_string(),
        password: entry.get("password")?.as_str()?.to_string(),
    })
}

#[cfg(test)]
mod tests;
