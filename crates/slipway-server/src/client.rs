//! A blocking client of the REST API, for the CLI's `--server` mode: JSON
//! in and out, the bearer token on every call, the server's `{"error": ...}`
//! message surfaced as the error.

use std::time::Duration;

use serde_json::Value;

/// Client errors.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP client could not be built.
    #[error("cannot build the http client")]
    Build(#[source] reqwest::Error),
    /// The request did not get an answer.
    #[error("{method} {url}")]
    Http {
        /// Method.
        method: &'static str,
        /// URL.
        url: String,
        /// Cause.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("{method} {url}: {status}: {message}")]
    Status {
        /// Method.
        method: &'static str,
        /// URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The answer is not JSON.
    #[error("{method} {url}: answer is not json")]
    Decode {
        /// Method.
        method: &'static str,
        /// URL.
        url: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// The HTTP status, when the server answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    token: Option<String>,
    user: Option<String>,
}

/// Percent-encodes one path segment or query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// A client of the server at `base` (`http://127.0.0.1:8080`; a trailing
    /// `/` or `/api/v1` is accepted). `user` is recorded as the initiator.
    pub fn new(
        base: &str,
        token: Option<String>,
        user: Option<String>,
    ) -> Result<Self, ClientError> {
        // reqwest is built without a crypto provider (for https servers).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(ClientError::Build)?;
        let base = base.trim_end_matches('/');
        let base = base.strip_suffix("/api/v1").unwrap_or(base).to_string();
        Ok(Self {
            http,
            base,
            token,
            user,
        })
    }

    fn send(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url),
        };
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(u) = &self.user {
            req = req.header("x-slipway-user", u);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let http_err = |source| ClientError::Http {
            method,
            url: url.clone(),
            source,
        };
        let resp = req.send().map_err(http_err)?;
        let status = resp.status();
        let bytes = resp.bytes().map_err(http_err)?;
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
            return Err(ClientError::Status {
                method,
                url,
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode {
            method,
            url,
            source,
        })
    }

    /// `GET /api/v1{path}`.
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send("GET", path, None)
    }

    /// `POST /api/v1{path}` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.send("POST", path, Some(body))
    }

    /// `DELETE /api/v1{path}`.
    pub fn delete(&self, path: &str) -> Result<Value, ClientError> {
        self.send("DELETE", path, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode("web-1.a_b~"), "web-1.a_b~");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
        assert_eq!(encode("app=web,tier!=db"), "app%3Dweb%2Ctier%21%3Ddb");
    }

    #[test]
    fn base_accepts_api_suffix_and_slash() {
        let c = Client::new("http://127.0.0.1:1/api/v1/", None, None).unwrap();
        assert_eq!(c.base, "http://127.0.0.1:1");
    }

    #[test]
    fn unreachable_server_is_an_http_error() {
        // Port 9 (discard) on loopback is closed here: the call must fail
        // with the URL in the message, not panic.
        let c = Client::new("http://127.0.0.1:9", None, None).unwrap();
        let e = c.get("/applications").unwrap_err();
        assert!(
            e.to_string()
                .contains("GET http://127.0.0.1:9/api/v1/applications"),
            "{e}"
        );
        assert_eq!(e.status(), None);
    }
}
