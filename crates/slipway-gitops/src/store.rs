//! The control plane's state for GitOps, in SQLite (`<data-dir>/slipway.db`):
//! Applications and ApplicationSets as applied, each app's status (sync,
//! health, resources, conditions, operation state), and its sync history.
//! Kept inside this crate for now; it moves to `slipway-store` when the
//! control plane needs PostgreSQL.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::application::Source;
use crate::cluster::embedded::open_db;
use crate::health::{AppHealth, Health};
use crate::plan::SyncPhase;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("state store {path}")]
    Sqlite {
        /// Database path.
        path: String,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A row did not decode.
    #[error("state store {path}: record {record} is corrupt")]
    Corrupt {
        /// Database path.
        path: String,
        /// Which record.
        record: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {path}")]
    DataDir {
        /// The path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Application sync status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SyncStatusCode {
    /// Live matches Git.
    Synced,
    /// Live differs.
    OutOfSync,
    /// Not compared (yet), or the comparison failed before diffing.
    #[default]
    Unknown,
}

impl SyncStatusCode {
    /// The name Argo CD uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synced => "Synced",
            Self::OutOfSync => "OutOfSync",
            Self::Unknown => "Unknown",
        }
    }
}

/// One managed resource's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// Group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Synced / OutOfSync.
    pub status: SyncStatusCode,
    /// Health, when the kind has a check and the object is live.
    pub health: Option<Health>,
    /// Live but no longer in Git.
    pub requires_pruning: bool,
    /// A hook.
    pub hook: bool,
}

/// A condition on the app (errors and warnings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// `ComparisonError`, `SyncError`, `PolicyViolation`, `PolicyAudit`...
    #[serde(rename = "type")]
    pub kind: String,
    /// The message.
    pub message: String,
}

/// Per-resource result of a sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceResult {
    /// Group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Synced, SyncFailed, Pruned, PruneSkipped, Skipped.
    pub status: String,
    /// Detail.
    pub message: String,
    /// Phase.
    pub sync_phase: SyncPhase,
    /// Wave.
    pub wave: i64,
    /// Whether this was a hook.
    pub hook: bool,
}

/// A sync operation's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    /// Running, Succeeded, Failed, Error.
    pub phase: String,
    /// Summary.
    pub message: String,
    /// Commit(s).
    pub revisions: Vec<String>,
    /// Who started it.
    pub initiator: String,
    /// Why.
    pub reason: String,
    /// Start time.
    pub started_at: String,
    /// End time.
    pub finished_at: Option<String>,
    /// The process running it (to detect one killed mid-sync).
    pub pid: u32,
    /// Per-resource results so far.
    pub results: Vec<ResourceResult>,
}

/// The last automatic sync attempt (one per revision, as Argo CD does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoSyncAttempt {
    /// Revisions synced.
    pub revisions: Vec<String>,
    /// Whether it succeeded.
    pub succeeded: bool,
}

/// An app's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// Sync status.
    pub sync: SyncStatusCode,
    /// Why (the error, or what is out of sync).
    pub sync_reason: String,
    /// The revisions compared.
    pub revisions: Vec<String>,
    /// App health.
    pub health: AppHealth,
    /// Managed resources.
    pub resources: Vec<ResourceStatus>,
    /// Conditions.
    pub conditions: Vec<Condition>,
    /// The last (or running) operation.
    pub operation_state: Option<OperationState>,
    /// The last automatic sync.
    pub last_auto_sync: Option<AutoSyncAttempt>,
    /// When the status was computed.
    pub reconciled_at: String,
}

impl Default for AppStatus {
    fn default() -> Self {
        Self {
            sync: SyncStatusCode::Unknown,
            sync_reason: String::new(),
            revisions: Vec::new(),
            health: AppHealth {
                status: crate::health::HealthStatus::Unknown,
                causes: String::new(),
            },
            resources: Vec::new(),
            conditions: Vec::new(),
            operation_state: None,
            last_auto_sync: None,
            reconciled_at: String::new(),
        }
    }
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Id, increasing per app.
    pub id: u64,
    /// Commit(s).
    pub revisions: Vec<String>,
    /// The sources synced (for rollback).
    pub sources: Vec<Source>,
    /// Start.
    pub started_at: String,
    /// End.
    pub deployed_at: String,
    /// `automated` or a user.
    pub initiator: String,
    /// Why (`auto-sync`, `self-heal`, `rollback to 3`, `manual`).
    pub reason: String,
    /// Succeeded, Failed, Error.
    pub result: String,
    /// Summary.
    pub message: String,
    /// Per-resource outcome.
    pub resources: Vec<ResourceResult>,
    /// Why the pre-sync policy gate blocked the sync (empty: it did not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_violations: Vec<String>,
    /// Audit findings of the pre-sync policy gate (recorded, not blocking).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_audits: Vec<String>,
}

/// A stored app or app set.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredApp {
    /// Name.
    pub name: String,
    /// `Application` or `ApplicationSet`.
    pub kind: String,
    /// The manifest as applied.
    pub manifest: Value,
    /// What created it (`Application/parent`, `ApplicationSet/set`), if not a user.
    pub owner: Option<String>,
    /// Status.
    pub status: AppStatus,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS apps (
    name TEXT NOT NULL, kind TEXT NOT NULL, manifest TEXT NOT NULL, owner TEXT,
    status TEXT NOT NULL, PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS history (
    app TEXT NOT NULL, id INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (app, id)
);
";

/// The app state store.
#[derive(Debug)]
pub struct AppStore {
    path: String,
    conn: Mutex<Connection>,
}

impl AppStore {
    /// Opens `<data_dir>/slipway.db`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        fs_err::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let file = data_dir.join("slipway.db");
        let path = file.display().to_string();
        let conn = open_db(&file).map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        conn.execute_batch(SCHEMA)
            .map_err(|source| StoreError::Sqlite {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            path,
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        text: &str,
        record: &str,
    ) -> Result<T, StoreError> {
        serde_json::from_str(text).map_err(|source| StoreError::Corrupt {
            path: self.path.clone(),
            record: record.into(),
            source,
        })
    }

    fn encode<T: Serialize>(&self, v: &T, record: &str) -> Result<String, StoreError> {
        serde_json::to_string(v).map_err(|source| StoreError::Corrupt {
            path: self.path.clone(),
            record: record.into(),
            source,
        })
    }

    /// Inserts or replaces an app's manifest (status is kept when it exists).
    pub fn put(
        &self,
        kind: &str,
        name: &str,
        manifest: &Value,
        owner: Option<&str>,
    ) -> Result<(), StoreError> {
        let m = self.encode(manifest, name)?;
        let status = self.encode(&AppStatus::default(), name)?;
        self.lock()
            .execute(
                "INSERT INTO apps (name, kind, manifest, owner, status) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (kind, name) DO UPDATE SET manifest = excluded.manifest, owner = excluded.owner",
                params![name, kind, m, owner, status],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Saves an app's status.
    pub fn set_status(&self, kind: &str, name: &str, status: &AppStatus) -> Result<(), StoreError> {
        let s = self.encode(status, name)?;
        self.lock()
            .execute(
                "UPDATE apps SET status = ?1 WHERE kind = ?2 AND name = ?3",
                params![s, kind, name],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    fn row(
        &self,
        r: (String, String, String, Option<String>, String),
    ) -> Result<StoredApp, StoreError> {
        Ok(StoredApp {
            manifest: self.decode(&r.2, &r.0)?,
            status: self.decode(&r.4, &r.0)?,
            name: r.0,
            kind: r.1,
            owner: r.3,
        })
    }

    /// One app or app set.
    pub fn get(&self, kind: &str, name: &str) -> Result<Option<StoredApp>, StoreError> {
        let r = self
            .lock()
            .query_row(
                "SELECT name, kind, manifest, owner, status FROM apps WHERE kind = ?1 AND name = ?2",
                params![kind, name],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        r.map(|r| self.row(r)).transpose()
    }

    /// All apps of a kind, by name.
    pub fn list(&self, kind: &str) -> Result<Vec<StoredApp>, StoreError> {
        let rows: Vec<_> = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare("SELECT name, kind, manifest, owner, status FROM apps WHERE kind = ?1 ORDER BY name")
                .map_err(|e| self.sql(e))?;
            let rows = stmt
                .query_map(params![kind], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })
                .map_err(|e| self.sql(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))?
        };
        rows.into_iter().map(|r| self.row(r)).collect()
    }

    /// Deletes an app and its history.
    pub fn delete(&self, kind: &str, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        let n = tx
            .execute(
                "DELETE FROM apps WHERE kind = ?1 AND name = ?2",
                params![kind, name],
            )
            .map_err(|e| self.sql(e))?;
        if kind == "Application" {
            tx.execute("DELETE FROM history WHERE app = ?1", params![name])
                .map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(n > 0)
    }

    /// Appends a history entry (its id is assigned) and trims to `limit`.
    pub fn add_history(
        &self,
        app: &str,
        mut entry: HistoryEntry,
        limit: usize,
    ) -> Result<HistoryEntry, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        let max: Option<i64> = tx
            .query_row(
                "SELECT MAX(id) FROM history WHERE app = ?1",
                params![app],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        entry.id = u64::try_from(max.unwrap_or(-1) + 1).unwrap_or(0);
        let text = serde_json::to_string(&entry).map_err(|source| StoreError::Corrupt {
            path: self.path.clone(),
            record: app.into(),
            source,
        })?;
        let id = i64::try_from(entry.id).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO history (app, id, entry) VALUES (?1, ?2, ?3)",
            params![app, id, text],
        )
        .map_err(|e| self.sql(e))?;
        let keep = i64::try_from(limit).unwrap_or(i64::MAX);
        tx.execute(
            "DELETE FROM history WHERE app = ?1 AND id <= ?2 - ?3",
            params![app, id, keep],
        )
        .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(entry)
    }

    /// Runs SQLite's integrity check; `Ok(true)` when the file is sound.
    pub fn integrity_ok(&self) -> Result<bool, StoreError> {
        let res: String = self
            .lock()
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .map_err(|e| self.sql(e))?;
        Ok(res == "ok")
    }

    /// An app's history, oldest first.
    pub fn history(&self, app: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let texts: Vec<String> = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare("SELECT entry FROM history WHERE app = ?1 ORDER BY id")
                .map_err(|e| self.sql(e))?;
            let rows = stmt
                .query_map(params![app], |row| row.get(0))
                .map_err(|e| self.sql(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))?
        };
        texts.iter().map(|t| self.decode(t, app)).collect()
    }
}
