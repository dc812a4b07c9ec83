//! The embedded environment: a persistent object store in SQLite under the data
//! directory. Every object gets a uid, a resourceVersion (the store-wide change
//! counter), a generation (bumped when anything but metadata and status changes)
//! and a creationTimestamp; `metadata.managedFields` records which manager set
//! which fields. Each change is one SQLite transaction, so a process killed
//! mid-sync leaves every object either fully written or untouched.
//!
//! It runs no controllers: nothing writes workload status, and health says so.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::{Cluster, ClusterError, EventType, ResourceRef, Selector, WatchEvent, validate_object};
use crate::fields::apply_merge;
use crate::tracking;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS objects (
    env TEXT NOT NULL, grp TEXT NOT NULL, kind TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
    app TEXT, rv INTEGER NOT NULL, object TEXT NOT NULL,
    PRIMARY KEY (env, grp, kind, ns, name)
);
CREATE INDEX IF NOT EXISTS objects_app ON objects (env, app);
CREATE TABLE IF NOT EXISTS events (
    rv INTEGER PRIMARY KEY AUTOINCREMENT, env TEXT NOT NULL, type TEXT NOT NULL,
    grp TEXT NOT NULL, kind TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, manager TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_env ON events (env, rv);
";

/// Opens (creating when needed) the SQLite database at `path` with the settings
/// every Slipway store uses: WAL journal (readers never block the writer, and a
/// kill leaves the last committed state), and a busy timeout so two processes
/// sharing a data directory wait for each other instead of failing.
pub fn open_db(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// An embedded environment.
pub struct EmbeddedCluster {
    name: String,
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for EmbeddedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedCluster")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish()
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl EmbeddedCluster {
    /// Opens environment `name` in `data_dir` (file `environments.db`).
    pub fn open(data_dir: &Path, name: &str) -> Result<Self, ClusterError> {
        fs_err::create_dir_all(data_dir).map_err(|source| ClusterError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join("environments.db");
        let store = |source| ClusterError::Store {
            env: name.to_string(),
            source,
        };
        let conn = open_db(&path).map_err(store)?;
        conn.execute_batch(SCHEMA).map_err(store)?;
        Ok(Self {
            name: name.to_string(),
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A poisoned lock only means another thread panicked mid-call; SQLite's
        // own transaction left the data consistent, so keep going.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn store_err(&self, source: rusqlite::Error) -> ClusterError {
        ClusterError::Store {
            env: self.name.clone(),
            source,
        }
    }

    fn decode(&self, text: &str, r: &ResourceRef) -> Result<Value, ClusterError> {
        serde_json::from_str(text).map_err(|source| ClusterError::Corrupt {
            env: self.name.clone(),
            resource: r.to_string(),
            source,
        })
    }

    /// Number of objects stored.
    pub fn count(&self) -> Result<u64, ClusterError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT COUNT(*) FROM objects WHERE env = ?1",
            params![self.name],
            |row| row.get::<_, i64>(0),
        )
        .map(|n| u64::try_from(n).unwrap_or(0))
        .map_err(|e| self.store_err(e))
    }

    /// Runs SQLite's integrity check; `Ok(true)` when the file is sound.
    pub fn integrity_ok(&self) -> Result<bool, ClusterError> {
        let conn = self.lock();
        let res: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .map_err(|e| self.store_err(e))?;
        Ok(res == "ok")
    }

    /// Names of the environments that hold objects in this data directory.
    pub fn environments(data_dir: &Path) -> Result<Vec<(String, u64)>, ClusterError> {
        let path = data_dir.join("environments.db");
        if !path.exists() {
            return Ok(Vec::new());
        }
        let store = |source| ClusterError::Store {
            env: String::new(),
            source,
        };
        let conn = open_db(&path).map_err(store)?;
        conn.execute_batch(SCHEMA).map_err(store)?;
        let mut stmt = conn
            .prepare("SELECT env, COUNT(*) FROM objects GROUP BY env ORDER BY env")
            .map_err(store)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(store)?;
        let mut out = Vec::new();
        for row in rows {
            let (name, n) = row.map_err(store)?;
            out.push((name, u64::try_from(n).unwrap_or(0)));
        }
        Ok(out)
    }
}

fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
        v
    };
    strip(old) != strip(new)
}

impl Cluster for EmbeddedCluster {
    fn name(&self) -> &str {
        &self.name
    }

    fn runs_workloads(&self) -> bool {
        false
    }

    fn get(&self, r: &ResourceRef) -> Result<Option<Value>, ClusterError> {
        let conn = self.lock();
        let text: Option<String> = conn
            .query_row(
                "SELECT object FROM objects WHERE env=?1 AND grp=?2 AND kind=?3 AND ns=?4 AND name=?5",
                params![self.name, r.group, r.kind, r.namespace, r.name],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.store_err(e))?;
        text.map(|t| self.decode(&t, r)).transpose()
    }

    fn list(&self, sel: &Selector) -> Result<Vec<Value>, ClusterError> {
        let conn = self.lock();
        let mut sql =
            String::from("SELECT grp, kind, ns, name, object FROM objects WHERE env = ?1");
        let mut args: Vec<String> = vec![self.name.clone()];
        if let Some((g, k)) = &sel.group_kind {
            args.push(g.clone());
            sql.push_str(&format!(" AND grp = ?{}", args.len()));
            args.push(k.clone());
            sql.push_str(&format!(" AND kind = ?{}", args.len()));
        }
        if let Some(ns) = &sel.namespace {
            args.push(ns.clone());
            sql.push_str(&format!(" AND ns = ?{}", args.len()));
        }
        if let Some(app) = &sel.tracked_by {
            args.push(app.clone());
            sql.push_str(&format!(" AND app = ?{}", args.len()));
        }
        sql.push_str(" ORDER BY grp, kind, ns, name");
        let mut stmt = conn.prepare(&sql).map_err(|e| self.store_err(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |row| {
                Ok((
                    ResourceRef {
                        group: row.get(0)?,
                        kind: row.get(1)?,
                        namespace: row.get(2)?,
                        name: row.get(3)?,
                    },
                    row.get::<_, String>(4)?,
                ))
            })
            .map_err(|e| self.store_err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (r, text) = row.map_err(|e| self.store_err(e))?;
            let obj = self.decode(&text, &r)?;
            if sel.matches_labels(&obj) {
                out.push(obj);
            }
        }
        Ok(out)
    }

    fn apply(&self, object: &Value, manager: &str) -> Result<Value, ClusterError> {
        validate_object(object)?;
        let r = ResourceRef::of(object);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.store_err(e))?;
        let live_text: Option<String> = tx
            .query_row(
                "SELECT object FROM objects WHERE env=?1 AND grp=?2 AND kind=?3 AND ns=?4 AND name=?5",
                params![self.name, r.group, r.kind, r.namespace, r.name],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.store_err(e))?;
        let live = live_text.map(|t| self.decode(&t, &r)).transpose()?;
        let time = now();
        let mut merged = apply_merge(live.as_ref(), object, manager, &time);
        if live.as_ref().is_some_and(|l| {
            let mut a = l.clone();
            let mut b = merged.clone();
            for v in [&mut a, &mut b] {
                if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                    for k in ["resourceVersion", "managedFields"] {
                        m.remove(k);
                    }
                }
            }
            a == b
        }) {
            // Nothing changed: keep the object (and its resourceVersion) as is,
            // as the API server does for a no-op apply.
            tx.commit().map_err(|e| self.store_err(e))?;
            return Ok(live.unwrap_or(merged));
        }
        let event = if live.is_some() { "Modified" } else { "Added" };
        tx.execute(
            "INSERT INTO events (env, type, grp, kind, ns, name, manager) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![self.name, event, r.group, r.kind, r.namespace, r.name, manager],
        )
        .map_err(|e| self.store_err(e))?;
        let rv = tx.last_insert_rowid();
        let changed = live.as_ref().is_some_and(|l| spec_changed(l, &merged));
        let meta = &mut merged["metadata"];
        match &live {
            Some(l) => {
                let generation = l
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                let generation = if changed { generation + 1 } else { generation };
                meta["generation"] = generation.into();
                for k in ["uid", "creationTimestamp"] {
                    if let Some(v) = l.pointer(&format!("/metadata/{k}")) {
                        meta[k] = v.clone();
                    }
                }
            }
            None => {
                meta["uid"] = uuid::Uuid::new_v4().to_string().into();
                meta["creationTimestamp"] = time.clone().into();
                meta["generation"] = 1.into();
            }
        }
        meta["resourceVersion"] = rv.to_string().into();
        let app = tracking::tracked_app(&merged);
        let text = serde_json::to_string(&merged).map_err(|source| ClusterError::Corrupt {
            env: self.name.clone(),
            resource: r.to_string(),
            source,
        })?;
        tx.execute(
            "INSERT INTO objects (env, grp, kind, ns, name, app, rv, object) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (env, grp, kind, ns, name) DO UPDATE SET app = excluded.app, rv = excluded.rv, object = excluded.object",
            params![self.name, r.group, r.kind, r.namespace, r.name, app, rv, text],
        )
        .map_err(|e| self.store_err(e))?;
        tx.commit().map_err(|e| self.store_err(e))?;
        Ok(merged)
    }

    fn delete(&self, r: &ResourceRef, manager: &str) -> Result<bool, ClusterError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.store_err(e))?;
        let mut targets = vec![r.clone()];
        // Deleting a namespace deletes what lives in it, as the API server's
        // namespace controller does.
        if r.group.is_empty() && r.kind == "Namespace" {
            let mut stmt = tx
                .prepare("SELECT grp, kind, ns, name FROM objects WHERE env=?1 AND ns=?2")
                .map_err(|e| self.store_err(e))?;
            let rows = stmt
                .query_map(params![self.name, r.name], |row| {
                    Ok(ResourceRef {
                        group: row.get(0)?,
                        kind: row.get(1)?,
                        namespace: row.get(2)?,
                        name: row.get(3)?,
                    })
                })
                .map_err(|e| self.store_err(e))?;
            for row in rows {
                targets.push(row.map_err(|e| self.store_err(e))?);
            }
        }
        let mut existed = false;
        for (i, t) in targets.iter().enumerate() {
            let n = tx
                .execute(
                    "DELETE FROM objects WHERE env=?1 AND grp=?2 AND kind=?3 AND ns=?4 AND name=?5",
                    params![self.name, t.group, t.kind, t.namespace, t.name],
                )
                .map_err(|e| self.store_err(e))?;
            if n > 0 {
                if i == 0 {
                    existed = true;
                }
                tx.execute(
                    "INSERT INTO events (env, type, grp, kind, ns, name, manager) VALUES (?1, 'Deleted', ?2, ?3, ?4, ?5, ?6)",
                    params![self.name, t.group, t.kind, t.namespace, t.name, manager],
                )
                .map_err(|e| self.store_err(e))?;
            }
        }
        tx.commit().map_err(|e| self.store_err(e))?;
        Ok(existed)
    }

    fn events_since(&self, revision: u64) -> Result<Vec<WatchEvent>, ClusterError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT rv, type, grp, kind, ns, name, manager FROM events WHERE env=?1 AND rv > ?2 ORDER BY rv")
            .map_err(|e| self.store_err(e))?;
        let rows = stmt
            .query_map(
                params![self.name, i64::try_from(revision).unwrap_or(i64::MAX)],
                |row| {
                    let t: String = row.get(1)?;
                    Ok(WatchEvent {
                        revision: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                        event: match t.as_str() {
                            "Added" => EventType::Added,
                            "Deleted" => EventType::Deleted,
                            _ => EventType::Modified,
                        },
                        resource: ResourceRef {
                            group: row.get(2)?,
                            kind: row.get(3)?,
                            namespace: row.get(4)?,
                            name: row.get(5)?,
                        },
                        manager: row.get(6)?,
                    })
                },
            )
            .map_err(|e| self.store_err(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.store_err(e))
    }
}

#[cfg(test)]
mod tests {
    //! What only the embedded store promises; get, list, apply, delete and
    //! watch semantics shared with other backends are in `cluster::harness`.

    use serde_json::json;

    use super::*;

    fn cm(name: &str, data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns", "labels": {"app": name}}, "data": data})
    }

    #[test]
    fn generations_deleters_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let env = EmbeddedCluster::open(dir.path(), "local").unwrap();
        let a = env.apply(&cm("a", json!({"k": "1"})), "slipway").unwrap();
        assert_eq!(a["metadata"]["generation"], 1);
        let created = a["metadata"]["creationTimestamp"].clone();
        let a2 = env.apply(&cm("a", json!({"k": "2"})), "alice").unwrap();
        assert_eq!(a2["metadata"]["generation"], 2);
        assert_eq!(a2["metadata"]["creationTimestamp"], created);
        env.apply(&cm("b", json!({})), "slipway").unwrap();
        assert!(
            env.delete(&ResourceRef::new("", "ConfigMap", "ns", "b"), "bob")
                .unwrap()
        );
        // Unlike an API server, the store records who deleted.
        let events = env.events_since(0).unwrap();
        assert_eq!(events.len(), 4);
        assert_eq!(events[1].manager, "alice");
        assert_eq!(
            (events[3].event, events[3].manager.as_str()),
            (EventType::Deleted, "bob")
        );
        // Persistent: a second handle sees the same state; environments are
        // apart.
        drop(env);
        let env = EmbeddedCluster::open(dir.path(), "local").unwrap();
        assert_eq!(env.count().unwrap(), 1);
        assert!(env.integrity_ok().unwrap());
        let other = EmbeddedCluster::open(dir.path(), "prod").unwrap();
        assert_eq!(other.count().unwrap(), 0);
        assert_eq!(
            EmbeddedCluster::environments(dir.path()).unwrap(),
            [("local".to_string(), 1)]
        );
    }
}
