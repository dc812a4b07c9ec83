//! `slipway db ...`: the offline OSV advisory database in the data directory.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use slipway_vuln::db::{self, Database, ImportOptions};

use crate::exit::Exit;
use crate::output;

/// Where Slipway keeps its data (the advisory database lives in `<dir>/osv`).
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Data directory.
    #[arg(
        long,
        env = "SLIPWAY_DATA_DIR",
        default_value = ".slipway",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
}

/// Output formats of `db` commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DbFormat {
    /// Text for humans.
    Table,
    /// JSON.
    Json,
}

/// Advisory database commands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Import OSV records: directories of JSON files, single JSON files, per-ecosystem
    /// `all.zip` exports (as downloaded from OSV.dev).
    ///
    /// Incremental: a record replaces the stored copy only when its `modified` is newer.
    /// Withdrawn records are kept (so an older copy cannot return) and never match.
    /// Malformed records are listed and skipped; exit 2 when nothing could be read.
    Import {
        /// Inputs.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        data: DataDir,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = DbFormat::Table)]
        format: DbFormat,
    },
    /// Say what is loaded (records per ecosystem) and how old it is.
    Status {
        #[command(flatten)]
        data: DataDir,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = DbFormat::Table)]
        format: DbFormat,
    },
}

/// Runs a db command.
pub fn run(command: DbCommand) -> anyhow::Result<Exit> {
    match command {
        DbCommand::Import {
            paths,
            data,
            format,
        } => {
            let options = ImportOptions {
                now: db::now_rfc3339(),
                ..ImportOptions::default()
            };
            let report = db::import(&data.data_dir, &paths, &options)?;
            for s in &report.skipped {
                output::warn(&format!("skipped {}: {}", s.source, s.reason));
            }
            let text = match format {
                DbFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
                DbFormat::Table => format!(
                    "read {} records: {} added, {} updated, {} unchanged (not newer), {} withdrawn; {} inputs skipped\n{}",
                    report.read,
                    report.added,
                    report.updated,
                    report.unchanged,
                    report.withdrawn,
                    report.skipped.len(),
                    status_text(&data.data_dir, &report.meta),
                ),
            };
            output::stdout(&text)?;
            Ok(if report.read == 0 && !report.skipped.is_empty() {
                Exit::BadInput
            } else {
                Exit::Success
            })
        }
        DbCommand::Status { data, format } => {
            let database = Database::open(&data.data_dir)?;
            let meta = database.meta();
            let text = match format {
                DbFormat::Json => {
                    let age = db::data_age(meta, &db::now_rfc3339());
                    let value = serde_json::json!({
                        "dir": database.dir().display().to_string(),
                        "meta": meta,
                        "age_seconds": age.map(|a| a.num_seconds()),
                        "size_bytes": db::disk_size(&data.data_dir),
                    });
                    serde_json::to_string_pretty(&value).context("cannot write status")? + "\n"
                }
                DbFormat::Table => status_text(&data.data_dir, meta),
            };
            output::stdout(&text)?;
            Ok(Exit::Success)
        }
    }
}

fn status_text(data_dir: &std::path::Path, meta: &db::Meta) -> String {
    let age =
        db::data_age(meta, &db::now_rfc3339()).map_or_else(|| "unknown".to_owned(), db::format_age);
    let size = db::disk_size(data_dir);
    let mut out = format!(
        "database: {} ({:.1} MB on disk)\nrecords: {} ({} withdrawn)\nimported: {}\nnewest record modified: {} ({} ago)\n",
        db::db_dir(data_dir).display(),
        size as f64 / 1_000_000.0,
        meta.records,
        meta.withdrawn,
        meta.imported_at,
        meta.newest_modified,
        age,
    );
    let width = meta
        .ecosystems
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(9)
        .max(9);
    out.push_str(&format!("\n{:<width$}  RECORDS\n", "ECOSYSTEM"));
    for (eco, n) in &meta.ecosystems {
        out.push_str(&format!("{eco:<width$}  {n:>7}\n"));
    }
    out
}
