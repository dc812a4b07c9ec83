//! The web console: one HTML page with inline JavaScript, embedded in the
//! binary (no Node toolchain). It reads the REST API and sends the token
//! the user pastes (kept in the browser's localStorage) on mutating calls.

use axum::response::Html;

/// The page.
pub const INDEX_HTML: &str = include_str!("console/index.html");

/// `GET /`.
pub async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}
