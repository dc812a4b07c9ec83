//! The control plane's own ledger in `<data-dir>/server.db` (SQLite, WAL):
//! events (syncs, admission denials, policy violations, reloads) and the
//! deployment records the delivery metrics are computed from. The GitOps
//! history keeps only the last few syncs per app, so every sync observed is
//! copied here once (keyed by app and history id and finish time).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

/// Event store errors.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// SQLite failed.
    #[error("event store {path}")]
    Sqlite {
        /// Database file.
        path: String,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Increasing id.
    pub id: i64,
    /// RFC 3339 time.
    pub time: String,
    /// `Sync`, `AdmissionDenied`, `AdmissionWarning`, `PoliciesReloaded`, ...
    pub kind: String,
    /// Application, if any.
    pub app: String,
    /// Environment, if any.
    pub env: String,
    /// The object or revision concerned.
    pub subject: String,
    /// Details.
    pub message: String,
}

/// One deployment (a sync that ran, whatever its result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Application.
    pub app: String,
    /// Environment.
    pub env: String,
    /// The app's history id.
    pub history_id: u64,
    /// First revision deployed.
    pub revision: String,
    /// Commit time of that revision (RFC 3339), when known.
    pub commit_time: Option<String>,
    /// Sync start.
    pub started_at: String,
    /// Sync end.
    pub finished_at: String,
    /// Succeeded / Failed / Error.
    pub result: String,
    /// Who.
    pub initiator: String,
    /// Why (`auto-sync ...`, `self-heal ...`, `rollback to history id N`).
    pub reason: String,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, kind TEXT NOT NULL,
    app TEXT NOT NULL, env TEXT NOT NULL, subject TEXT NOT NULL, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_app ON events (app, id);
CREATE TABLE IF NOT EXISTS deployments (
    app TEXT NOT NULL, env TEXT NOT NULL, history_id INTEGER NOT NULL, revision TEXT NOT NULL,
    commit_time TEXT, started_at TEXT NOT NULL, finished_at TEXT NOT NULL, result TEXT NOT NULL,
    initiator TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (app, history_id, finished_at)
);
";

/// The event and deployment ledger.
#[derive(Debug)]
pub struct EventLog {
    path: String,
    conn: Mutex<Connection>,
}

impl EventLog {
    /// Opens (creating) `<data_dir>/server.db`.
    pub fn open(data_dir: &Path) -> Result<Self, EventError> {
        let file = data_dir.join("server.db");
        let path = file.display().to_string();
        let err = |source| EventError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&file).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let version: Option<i64> = conn
            .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
            .map_err(err)?;
        if version.is_none() {
            conn.execute("INSERT INTO schema_version (version) VALUES (1)", [])
                .map_err(err)?;
        }
        Ok(Self {
            path,
            conn: Mutex::new(conn),
        })
    }

    fn err(&self, source: rusqlite::Error) -> EventError {
        EventError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends an event; failures are logged, never fatal (an event is
    /// a record of something that already happened).
    pub fn record(&self, kind: &str, app: &str, env: &str, subject: &str, message: &str) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = conn.execute(
            "INSERT INTO events (time, kind, app, env, subject, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![time, kind, app, env, subject, message],
        ) {
            tracing::error!(error = %self.err(e), "cannot record event");
        }
    }

    /// The newest events first, optionally of one app.
    pub fn list(&self, app: Option<&str>, limit: usize) -> Result<Vec<Event>, EventError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = conn
            .prepare(
                "SELECT id, time, kind, app, env, subject, message FROM events
                 WHERE (?1 IS NULL OR app = ?1) ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![app, limit], |r| {
                Ok(Event {
                    id: r.get(0)?,
                    time: r.get(1)?,
                    kind: r.get(2)?,
                    app: r.get(3)?,
                    env: r.get(4)?,
                    subject: r.get(5)?,
                    message: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Records a deployment; returns false when it was already known.
    pub fn add_deployment(&self, d: &Deployment) -> Result<bool, EventError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let id = i64::try_from(d.history_id).unwrap_or(i64::MAX);
        let n = conn
            .execute(
                "INSERT OR IGNORE INTO deployments (app, env, history_id, revision, commit_time,
                 started_at, finished_at, result, initiator, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    d.app,
                    d.env,
                    id,
                    d.revision,
                    d.commit_time,
                    d.started_at,
                    d.finished_at,
                    d.result,
                    d.initiator,
                    d.reason
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Every deployment, oldest first.
    pub fn deployments(&self) -> Result<Vec<Deployment>, EventError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn
            .prepare(
                "SELECT app, env, history_id, revision, commit_time, started_at, finished_at,
                 result, initiator, reason FROM deployments ORDER BY finished_at, app, history_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Deployment {
                    app: r.get(0)?,
                    env: r.get(1)?,
                    history_id: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    revision: r.get(3)?,
                    commit_time: r.get(4)?,
                    started_at: r.get(5)?,
                    finished_at: r.get(6)?,
                    result: r.get(7)?,
                    initiator: r.get(8)?,
                    reason: r.get(9)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Row counts: (events, deployments).
    pub fn sizes(&self) -> Result<(u64, u64), EventError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let count = |table: &str| -> Result<u64, rusqlite::Error> {
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
        };
        Ok((
            count("events").map_err(|e| self.err(e))?,
            count("deployments").map_err(|e| self.err(e))?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_deployments_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EventLog::open(dir.path()).unwrap();
            log.record("Sync", "web", "staging", "abc", "Succeeded");
            log.record("AdmissionDenied", "", "", "Pod/default/x", "policy p/r: no");
            let d = Deployment {
                app: "web".into(),
                env: "staging".into(),
                history_id: 0,
                revision: "abc".into(),
                commit_time: None,
                started_at: "2026-01-01T00:00:00Z".into(),
                finished_at: "2026-01-01T00:00:01Z".into(),
                result: "Succeeded".into(),
                initiator: "automated".into(),
                reason: "auto-sync".into(),
            };
            assert!(log.add_deployment(&d).unwrap());
            assert!(!log.add_deployment(&d).unwrap(), "deduplicated");
        }
        let log = EventLog::open(dir.path()).unwrap();
        let all = log.list(None, 10).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].kind, "AdmissionDenied", "newest first");
        assert_eq!(log.list(Some("web"), 10).unwrap().len(), 1);
        assert_eq!(log.deployments().unwrap().len(), 1);
        assert_eq!(log.sizes().unwrap(), (2, 1));
    }
}
