//! The OpenAPI 3.0 document of `/api/v1`, built from one table of routes so
//! the document and the router are reviewed side by side.

use serde_json::{Map, Value, json};

/// (method, path, summary, mutating).
const ROUTES: &[(&str, &str, &str, bool)] = &[
    (
        "get",
        "/applications",
        "List applications with sync and health status",
        false,
    ),
    (
        "post",
        "/applications",
        "Store Applications / ApplicationSets: body {documents: [...]}",
        true,
    ),
    (
        "post",
        "/reconcile",
        "Run one reconcile pass now and answer what it did",
        true,
    ),
    (
        "get",
        "/applications/{name}",
        "An application with its status (?refresh=true compares first)",
        false,
    ),
    (
        "delete",
        "/applications/{name}",
        "Delete an application (?cascade=true deletes its resources)",
        true,
    ),
    (
        "get",
        "/applications/{name}/resources",
        "Managed resources and the resource tree",
        false,
    ),
    (
        "get",
        "/applications/{name}/diff",
        "Unified diffs of live against Git",
        false,
    ),
    (
        "post",
        "/applications/{name}/sync",
        "Sync: body {revision?, prune?, dryRun?}",
        true,
    ),
    (
        "get",
        "/applications/{name}/history",
        "Sync history, oldest first",
        false,
    ),
    (
        "post",
        "/applications/{name}/rollback",
        "Roll back: body {id, prune?}",
        true,
    ),
    (
        "get",
        "/applications/{name}/events",
        "Events of an application, newest first",
        false,
    ),
    (
        "get",
        "/environments",
        "Environments with object counts",
        false,
    ),
    (
        "get",
        "/environments/{env}/objects",
        "Live objects (?kind=&name=&namespace=&app=&selector=)",
        false,
    ),
    (
        "post",
        "/environments/{env}/objects",
        "Apply objects as a field manager: body {objects: [...]} (?manager=&namespace=)",
        true,
    ),
    (
        "delete",
        "/environments/{env}/objects/{kind}/{name}",
        "Delete a live object (?namespace=&manager=)",
        true,
    ),
    (
        "get",
        "/policies",
        "Policies loaded in the admission webhook",
        false,
    ),
    (
        "post",
        "/policies/reload",
        "Reload the policy directory now",
        true,
    ),
    (
        "get",
        "/policyreports",
        "ClusterPolicyReports (wgpolicyk8s.io/v1alpha2) from a background scan",
        false,
    ),
    (
        "get",
        "/findings",
        "Failed and errored policy results on live objects",
        false,
    ),
    (
        "get",
        "/events",
        "Events (?app=&limit=), newest first",
        false,
    ),
    (
        "get",
        "/delivery",
        "DORA delivery metrics overall and per application (?windowDays=30)",
        false,
    ),
    (
        "post",
        "/webhooks/git",
        "Ask for a reconcile pass now (no token needed)",
        false,
    ),
    ("get", "/openapi.json", "This document", false),
];

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, mutating) in ROUTES {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {}}},
                "404": {"description": "Not found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        if *mutating {
            op["security"] = json!([{"bearer": []}]);
            op["responses"]["401"] = json!({"description": "Missing or wrong token"});
        }
        let entry = paths
            .entry(format!("/api/v1{path}"))
            .or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Slipway control plane", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "string"}}}},
        },
    })
}
