//! The offline advisory database: OSV records imported from directories of JSON
//! files and from OSV.dev's per-ecosystem `all.zip` exports, stored in the data
//! directory and looked up by (ecosystem, package name) at scan time.
//!
//! Layout of `<data-dir>/osv/` (format [`FORMAT_VERSION`]):
//! - `records-<gen>.jsonl`: one compact OSV record per line, grouped by ecosystem;
//! - `index-<gen>.jsonl`: one [`IndexEntry`] per record (id, `modified`,
//!   `withdrawn`, aliases, lookup keys, byte offset and length in the records file);
//! - `meta.json`: the current generation, counts per ecosystem and the times that
//!   say how old the data is. Writing `meta.json` (atomically, by rename) is the
//!   commit point of an import, so an interrupted import leaves the previous
//!   database intact.
//!
//! Opening loads only the index; a scan reads the few records a package can
//! match. Imports are incremental: a record replaces the stored copy only when
//! its `modified` is newer, and memory stays bounded by the index (records are
//! streamed to a spool file, never all held at once). Zip entries are read
//! through size caps, so a zip bomb costs a bounded amount of work.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::osv::{EcosystemName, Record, lookup_name};
use crate::scan::AdvisoryLookup;

/// Version of the on-disk layout; a database of another version must be re-imported.
pub const FORMAT_VERSION: u32 = 1;

/// Largest single record accepted (uncompressed), from a file or a zip entry.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// Largest total uncompressed size read from one zip archive.
pub const DEFAULT_MAX_ARCHIVE_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// Most entries read from one zip archive.
pub const DEFAULT_MAX_ARCHIVE_ENTRIES: usize = 5_000_000;

/// Errors of the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No database in the data directory.
    #[error(
        "no vulnerability database in {dir}: run `slipway db import PATH...` with OSV records (directories of JSON files or all.zip exports)"
    )]
    Missing {
        /// The database directory looked at.
        dir: PathBuf,
    },
    /// The database was written by another format version.
    #[error(
        "vulnerability database in {dir} has format {found}, expected {FORMAT_VERSION}: re-import it"
    )]
    Format {
        /// The database directory.
        dir: PathBuf,
        /// The version found.
        found: u32,
    },
    /// The database files are damaged.
    #[error("vulnerability database file {path} is damaged: {message}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing failed.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The newest record is older than the allowed age.
    #[error(
        "vulnerability database in {dir} is too old: newest record modified {newest} ({age} ago), older than the allowed {max}; import a current OSV export with `slipway db import` or raise --max-db-age"
    )]
    Stale {
        /// The database directory.
        dir: PathBuf,
        /// Newest `modified`.
        newest: String,
        /// Its age, human-readable.
        age: String,
        /// The limit, human-readable.
        max: String,
    },
    /// An import input is not usable at all (not a directory, JSON file or zip).
    #[error("{path}: {message}")]
    Input {
        /// The input.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DbError + '_ {
    move |source| DbError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What `meta.json` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Layout version.
    pub format: u32,
    /// Generation of the records and index files.
    pub generation: u64,
    /// When the last import finished (RFC 3339, UTC).
    pub imported_at: String,
    /// The newest `modified` of any record: how current the advisory data is.
    pub newest_modified: String,
    /// Records held (withdrawn included).
    pub records: usize,
    /// Withdrawn records (kept so an older copy cannot come back, never matched).
    pub withdrawn: usize,
    /// Records per ecosystem base (`Debian`, `PyPI`); a record naming two ecosystems counts in both.
    pub ecosystems: BTreeMap<String, usize>,
    /// The inputs of every import, newest last.
    pub sources: Vec<String>,
}

/// One record in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Record id.
    pub id: String,
    /// Its `modified`.
    #[serde(rename = "m")]
    pub modified: String,
    /// Its `withdrawn`, if any.
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// Its aliases.
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Lookup keys: (ecosystem base, lookup name).
    #[serde(rename = "k")]
    pub keys: Vec<(String, String)>,
    /// Ecosystem bases named by the record (for counts).
    #[serde(rename = "e")]
    pub ecosystems: Vec<String>,
    /// Byte offset in the records file.
    #[serde(rename = "o")]
    pub offset: u64,
    /// Length in bytes (without the newline).
    #[serde(rename = "l")]
    pub len: u32,
}

impl IndexEntry {
    fn of(record: &Record, offset: u64, len: u32) -> Self {
        let mut keys: Vec<(String, String)> = Vec::new();
        let mut ecosystems: Vec<String> = Vec::new();
        for a in &record.affected {
            if let Some(p) = &a.package {
                let base = EcosystemName::parse(&p.ecosystem).base;
                let key = (base.clone(), lookup_name(&p.ecosystem, &p.name));
                if !keys.contains(&key) {
                    keys.push(key);
                }
                if !ecosystems.contains(&base) {
                    ecosystems.push(base);
                }
            }
        }
        IndexEntry {
            id: record.id.clone(),
            modified: record.modified.clone(),
            withdrawn: record.withdrawn.clone(),
            aliases: record.aliases.clone(),
            keys,
            ecosystems,
            offset,
            len,
        }
    }
}

/// An open database.
#[derive(Debug)]
pub struct Database {
    dir: PathBuf,
    meta: Meta,
    entries: Vec<IndexEntry>,
    by_key: HashMap<(String, String), Vec<u32>>,
    records_path: PathBuf,
    records: File,
}

/// The database directory inside a data directory.
pub fn db_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("osv")
}

fn records_file(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("records-{generation}.jsonl"))
}

fn index_file(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("index-{generation}.jsonl"))
}

/// Read `meta.json`, `None` when there is no database.
pub fn read_meta(data_dir: &Path) -> Result<Option<Meta>, DbError> {
    let dir = db_dir(data_dir);
    let path = dir.join("meta.json");
    let text = match fs_err::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let meta: Meta = serde_json::from_str(&text).map_err(|e| DbError::Corrupt {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if meta.format != FORMAT_VERSION {
        return Err(DbError::Format {
            dir,
            found: meta.format,
        });
    }
    Ok(Some(meta))
}

impl Database {
    /// Open the database of `data_dir`.
    ///
    /// # Errors
    /// [`DbError::Missing`] when nothing was imported; damaged or unreadable files.
    pub fn open(data_dir: &Path) -> Result<Self, DbError> {
        let dir = db_dir(data_dir);
        let meta = read_meta(data_dir)?.ok_or_else(|| DbError::Missing { dir: dir.clone() })?;
        let entries = read_index(&index_file(&dir, meta.generation))?;
        let records_path = records_file(&dir, meta.generation);
        let records = File::open(&records_path).map_err(io_err(&records_path))?;
        let mut by_key: HashMap<(String, String), Vec<u32>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let i = u32::try_from(i).map_err(|_| DbError::Corrupt {
                path: records_path.clone(),
                message: "too many records".to_owned(),
            })?;
            for k in &e.keys {
                by_key.entry(k.clone()).or_default().push(i);
            }
        }
        Ok(Database {
            dir,
            meta,
            entries,
            by_key,
            records_path,
            records,
        })
    }

    /// What `meta.json` says.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The database directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The index, one entry per record.
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// Read the record of one index entry.
    ///
    /// # Errors
    /// When the records file cannot be read or the line is not a record.
    pub fn read_record(&self, entry: &IndexEntry) -> Result<Record, DbError> {
        let mut buf = vec![0u8; entry.len as usize];
        let mut f = &self.records;
        f.seek(SeekFrom::Start(entry.offset))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(io_err(&self.records_path))?;
        serde_json::from_slice(&buf).map_err(|e| DbError::Corrupt {
            path: self.records_path.clone(),
            message: format!("record {} at byte {}: {e}", entry.id, entry.offset),
        })
    }
}

impl AdvisoryLookup for Database {
    type Error = DbError;

    fn visit(
        &self,
        ecosystem: &str,
        name: &str,
        f: &mut dyn FnMut(&Record),
    ) -> Result<(), DbError> {
        let key = (
            EcosystemName::parse(ecosystem).base,
            lookup_name(ecosystem, name),
        );
        let Some(list) = self.by_key.get(&key) else {
            return Ok(());
        };
        for &i in list {
            let record = self.read_record(&self.entries[i as usize])?;
            f(&record);
        }
        Ok(())
    }
}

fn read_index(path: &Path) -> Result<Vec<IndexEntry>, DbError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut entries = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        let entry: IndexEntry = serde_json::from_str(&line).map_err(|e| DbError::Corrupt {
            path: path.to_owned(),
            message: format!("line {}: {e}", n + 1),
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

/// Limits and clock of an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Largest record (file or zip entry), uncompressed.
    pub max_record_bytes: u64,
    /// Largest total uncompressed bytes read from one archive.
    pub max_archive_bytes: u64,
    /// Most entries read from one archive.
    pub max_archive_entries: usize,
    /// The time written as `imported_at` (RFC 3339).
    pub now: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_archive_bytes: DEFAULT_MAX_ARCHIVE_BYTES,
            max_archive_entries: DEFAULT_MAX_ARCHIVE_ENTRIES,
            now: String::new(),
        }
    }
}

/// An input that was skipped (wholly or in part) during an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// File, or `archive.zip:entry`.
    pub source: String,
    /// Why.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Records read from the inputs.
    pub read: usize,
    /// Ids not in the database before.
    pub added: usize,
    /// Stored records replaced by a newer `modified`.
    pub updated: usize,
    /// Records not newer than the stored copy (or than another copy in the inputs).
    pub unchanged: usize,
    /// Records now withdrawn among those added or updated.
    pub withdrawn: usize,
    /// Files or entries that could not be used.
    pub skipped: Vec<Skipped>,
    /// The database after the import.
    pub meta: Meta,
}

/// The newest copy of one id during an import: its `modified`, where it is,
/// and its index entry when it came from the inputs.
type Chosen = (String, Loc, Option<IndexEntry>);

/// Where the newest copy of a record lives during an import.
#[derive(Debug, Clone, Copy)]
enum Loc {
    Old(usize),
    Spool(u64, u32),
}

struct Importer<'a> {
    options: &'a ImportOptions,
    spool: BufWriter<File>,
    spool_path: PathBuf,
    spool_len: u64,
    chosen: HashMap<String, Chosen>,
    report: ImportReport,
    old_ids: HashMap<String, usize>,
}

impl Importer<'_> {
    fn offer(&mut self, source: &str, bytes: &[u8]) -> Result<(), DbError> {
        let mut record: Record = match serde_json::from_slice(bytes) {
            Ok(r) => r,
            Err(e) => {
                self.report.skipped.push(Skipped {
                    source: source.to_owned(),
                    reason: format!("line {}, column {}: {e}", e.line(), e.column()),
                });
                return Ok(());
            }
        };
        if record.id.trim().is_empty() {
            self.report.skipped.push(Skipped {
                source: source.to_owned(),
                reason: "record has no id".to_owned(),
            });
            return Ok(());
        }
        self.report.read += 1;
        if let Some((modified, _, _)) = self.chosen.get(&record.id)
            && *modified >= record.modified
        {
            self.report.unchanged += 1;
            return Ok(());
        }
        // The stored copy keeps what matching and reports use: the long
        // `details` text and per-entry `ecosystem_specific` data are dropped,
        // which makes the records file smaller and lookups faster.
        record.details = None;
        for a in &mut record.affected {
            a.ecosystem_specific = None;
        }
        let line = serde_json::to_vec(&record).map_err(|e| DbError::Input {
            path: PathBuf::from(source),
            message: e.to_string(),
        })?;
        let len = u32::try_from(line.len()).map_err(|_| DbError::Input {
            path: PathBuf::from(source),
            message: "record too large".to_owned(),
        })?;
        let offset = self.spool_len;
        self.spool
            .write_all(&line)
            .and_then(|()| self.spool.write_all(b"\n"))
            .map_err(io_err(&self.spool_path))?;
        self.spool_len += line.len() as u64 + 1;
        let entry = IndexEntry::of(&record, 0, len);
        self.chosen.insert(
            record.id.clone(),
            (record.modified, Loc::Spool(offset, len), Some(entry)),
        );
        Ok(())
    }

    fn read_limited(
        &mut self,
        source: &str,
        reader: impl Read,
        declared: Option<u64>,
    ) -> Option<Vec<u8>> {
        let max = self.options.max_record_bytes;
        if declared.is_some_and(|d| d > max) {
            self.report.skipped.push(Skipped {
                source: source.to_owned(),
                reason: format!("over the {max} byte record limit"),
            });
            return None;
        }
        let mut buf = Vec::new();
        match reader.take(max + 1).read_to_end(&mut buf) {
            Ok(_) if buf.len() as u64 > max => {
                self.report.skipped.push(Skipped {
                    source: source.to_owned(),
                    reason: format!("over the {max} byte record limit"),
                });
                None
            }
            Ok(_) => Some(buf),
            Err(e) => {
                self.report.skipped.push(Skipped {
                    source: source.to_owned(),
                    reason: e.to_string(),
                });
                None
            }
        }
    }

    fn import_file(&mut self, path: &Path) -> Result<(), DbError> {
        let source = path.display().to_string();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.report.skipped.push(Skipped {
                    source,
                    reason: e.to_string(),
                });
                return Ok(());
            }
        };
        let declared = file.metadata().ok().map(|m| m.len());
        if let Some(bytes) = self.read_limited(&source, file, declared) {
            self.offer(&source, &bytes)?;
        }
        Ok(())
    }

    fn import_zip(&mut self, path: &Path) -> Result<(), DbError> {
        let file = File::open(path).map_err(io_err(path))?;
        let mut archive =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| DbError::Input {
                path: path.to_owned(),
                message: format!("not a readable zip archive: {e}"),
            })?;
        let count = archive.len();
        if count > self.options.max_archive_entries {
            return Err(DbError::Input {
                path: path.to_owned(),
                message: format!(
                    "{count} entries, over the limit of {}",
                    self.options.max_archive_entries
                ),
            });
        }
        let mut total: u64 = 0;
        for i in 0..count {
            let mut entry = match archive.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    self.report.skipped.push(Skipped {
                        source: format!("{}:#{i}", path.display()),
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let name = entry
                .name()
                .map(|n| n.into_owned())
                .unwrap_or_else(|_| format!("#{i}"));
            if entry.is_dir() || !name.ends_with(".json") {
                continue;
            }
            let source = format!("{}:{name}", path.display());
            let declared = entry.size();
            let Some(bytes) = self.read_limited(&source, &mut entry, Some(declared)) else {
                continue;
            };
            drop(entry);
            total += bytes.len() as u64;
            if total > self.options.max_archive_bytes {
                self.report.skipped.push(Skipped {
                    source: path.display().to_string(),
                    reason: format!(
                        "stopped after {} uncompressed bytes (limit {}): the rest of the archive was not read",
                        total, self.options.max_archive_bytes
                    ),
                });
                break;
            }
            self.offer(&source, &bytes)?;
        }
        Ok(())
    }

    fn import_path(&mut self, path: &Path) -> Result<(), DbError> {
        let meta = fs_err::metadata(path).map_err(|e| DbError::Input {
            path: path.to_owned(),
            message: format!("cannot read: {e}"),
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            let mut stack = vec![path.to_owned()];
            while let Some(d) = stack.pop() {
                let entries = std::fs::read_dir(&d).map_err(io_err(&d))?;
                for e in entries.flatten() {
                    let p = e.path();
                    let Ok(ft) = e.file_type() else { continue };
                    if ft.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|x| x == "json" || x == "zip") {
                        files.push(p);
                    }
                }
            }
            files.sort();
            for f in files {
                if f.extension().is_some_and(|x| x == "zip") {
                    if let Err(e) = self.import_zip(&f) {
                        self.report.skipped.push(Skipped {
                            source: f.display().to_string(),
                            reason: e.to_string(),
                        });
                    }
                } else {
                    self.import_file(&f)?;
                }
            }
            Ok(())
        } else if path.extension().is_some_and(|x| x == "zip") {
            self.import_zip(path)
        } else {
            self.import_file(path)
        }
    }
}

/// Import OSV records from `inputs` (directories, `*.json` files, `*.zip`
/// archives) into the database of `data_dir`, creating it if needed.
///
/// Unreadable or malformed records are listed in [`ImportReport::skipped`];
/// the rest is imported.
///
/// # Errors
/// When an input does not exist, or the database cannot be read or written.
pub fn import(
    data_dir: &Path,
    inputs: &[PathBuf],
    options: &ImportOptions,
) -> Result<ImportReport, DbError> {
    let dir = db_dir(data_dir);
    fs_err::create_dir_all(&dir).map_err(io_err(&dir))?;
    let old = match Database::open(data_dir) {
        Ok(db) => Some(db),
        Err(DbError::Missing { .. }) => None,
        Err(e) => return Err(e),
    };
    let generation = old.as_ref().map_or(1, |db| db.meta.generation + 1);
    let spool_path = dir.join(format!("spool-{generation}.tmp"));
    let spool = File::create(&spool_path).map_err(io_err(&spool_path))?;
    let mut importer = Importer {
        options,
        spool: BufWriter::new(spool),
        spool_path: spool_path.clone(),
        spool_len: 0,
        chosen: HashMap::new(),
        report: ImportReport::default(),
        old_ids: HashMap::new(),
    };
    if let Some(db) = &old {
        for (i, e) in db.entries.iter().enumerate() {
            importer.old_ids.insert(e.id.clone(), i);
            importer
                .chosen
                .insert(e.id.clone(), (e.modified.clone(), Loc::Old(i), None));
        }
    }
    let result = inputs.iter().try_for_each(|p| importer.import_path(p));
    let result = result.and_then(|()| importer.spool.flush().map_err(io_err(&importer.spool_path)));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&spool_path);
        return Err(e);
    }
    let written = write_generation(&dir, generation, old.as_ref(), &mut importer, inputs);
    let _ = std::fs::remove_file(&spool_path);
    let meta = written?;
    if let Some(db) = old {
        let g = db.meta.generation;
        drop(db);
        // The old generation is unreachable once meta.json points at the new one.
        let _ = std::fs::remove_file(records_file(&dir, g));
        let _ = std::fs::remove_file(index_file(&dir, g));
    }
    let mut report = importer.report;
    report.meta = meta;
    Ok(report)
}

fn write_generation(
    dir: &Path,
    generation: u64,
    old: Option<&Database>,
    importer: &mut Importer<'_>,
    inputs: &[PathBuf],
) -> Result<Meta, DbError> {
    let spool_path = importer.spool_path.clone();
    let spool = File::open(&spool_path).map_err(io_err(&spool_path))?;
    let records_path = records_file(dir, generation);
    let index_path = index_file(dir, generation);
    let mut records = BufWriter::new(File::create(&records_path).map_err(io_err(&records_path))?);
    let mut index = BufWriter::new(File::create(&index_path).map_err(io_err(&index_path))?);

    // Group by ecosystem then id, so records of one ecosystem sit together on disk.
    let chosen = std::mem::take(&mut importer.chosen);
    let mut order: Vec<(&String, &Chosen)> = chosen.iter().collect();
    let first_eco = |v: &Chosen| -> String {
        match (&v.2, v.1, old) {
            (Some(e), _, _) => e.ecosystems.first().cloned().unwrap_or_default(),
            (None, Loc::Old(i), Some(db)) => db.entries[i]
                .ecosystems
                .first()
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        }
    };
    let mut keyed: Vec<(String, &String, &Chosen)> = order
        .drain(..)
        .map(|(id, v)| (first_eco(v), id, v))
        .collect();
    keyed.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));

    let mut meta = Meta {
        format: FORMAT_VERSION,
        generation,
        imported_at: importer.options.now.clone(),
        sources: old.map(|db| db.meta.sources.clone()).unwrap_or_default(),
        ..Meta::default()
    };
    for i in inputs {
        meta.sources.push(i.display().to_string());
    }
    let mut offset: u64 = 0;
    let mut buf = Vec::new();
    let mut spool_reader = &spool;
    for (_, id, (modified, loc, fresh)) in keyed {
        let mut entry = match (loc, fresh, old) {
            (Loc::Spool(off, len), Some(e), _) => {
                buf.resize(*len as usize, 0);
                spool_reader
                    .seek(SeekFrom::Start(*off))
                    .and_then(|_| spool_reader.read_exact(&mut buf))
                    .map_err(io_err(&spool_path))?;
                if importer.old_ids.contains_key(id.as_str()) {
                    importer.report.updated += 1;
                } else {
                    importer.report.added += 1;
                }
                if e.withdrawn.is_some() {
                    importer.report.withdrawn += 1;
                }
                e.clone()
            }
            (Loc::Old(i), _, Some(db)) => {
                let e = &db.entries[*i];
                buf.resize(e.len as usize, 0);
                let mut r = &db.records;
                r.seek(SeekFrom::Start(e.offset))
                    .and_then(|_| r.read_exact(&mut buf))
                    .map_err(io_err(&db.records_path))?;
                e.clone()
            }
            _ => continue,
        };
        entry.offset = offset;
        entry.len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        records
            .write_all(&buf)
            .and_then(|()| records.write_all(b"\n"))
            .map_err(io_err(&records_path))?;
        offset += buf.len() as u64 + 1;
        let line = serde_json::to_string(&entry).map_err(|e| DbError::Corrupt {
            path: index_path.clone(),
            message: e.to_string(),
        })?;
        index
            .write_all(line.as_bytes())
            .and_then(|()| index.write_all(b"\n"))
            .map_err(io_err(&index_path))?;
        meta.records += 1;
        if entry.withdrawn.is_some() {
            meta.withdrawn += 1;
        }
        if *modified > meta.newest_modified {
            meta.newest_modified = modified.clone();
        }
        for e in &entry.ecosystems {
            *meta.ecosystems.entry(e.clone()).or_default() += 1;
        }
    }
    records
        .into_inner()
        .map_err(|e| io_err(&records_path)(e.into_error()))?
        .sync_all()
        .map_err(io_err(&records_path))?;
    index
        .into_inner()
        .map_err(|e| io_err(&index_path)(e.into_error()))?
        .sync_all()
        .map_err(io_err(&index_path))?;
    let meta_tmp = dir.join("meta.json.tmp");
    let meta_path = dir.join("meta.json");
    let text = serde_json::to_string_pretty(&meta).map_err(|e| DbError::Corrupt {
        path: meta_path.clone(),
        message: e.to_string(),
    })?;
    fs_err::write(&meta_tmp, text + "\n").map_err(io_err(&meta_tmp))?;
    std::fs::rename(&meta_tmp, &meta_path).map_err(io_err(&meta_path))?;
    Ok(meta)
}

/// Parse an age such as `90m`, `36h`, `7d` or `2w`.
///
/// # Errors
/// When the text is not a number followed by one of `m`, `h`, `d`, `w`.
pub fn parse_age(text: &str) -> Result<chrono::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not an age like 36h, 7d or 2w"))?;
    match unit {
        "m" => Ok(chrono::Duration::minutes(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "d" => Ok(chrono::Duration::days(n)),
        "w" => Ok(chrono::Duration::weeks(n)),
        _ => Err(format!(
            "`{text}` is not an age like 36h, 7d or 2w (units m, h, d, w)"
        )),
    }
}

/// An age as `3d 4h`.
pub fn format_age(d: chrono::Duration) -> String {
    let mins = d.num_minutes().max(0);
    let (days, hours, minutes) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else {
        format!("{minutes}m")
    }
}

fn parse_time(t: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(t.trim())
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

/// How old the advisory data is at `now`: the age of the newest `modified`.
pub fn data_age(meta: &Meta, now: &str) -> Option<chrono::Duration> {
    Some(parse_time(now)? - parse_time(&meta.newest_modified)?)
}

/// Fail when the data is older than `max_age` (or its age cannot be told).
///
/// # Errors
/// [`DbError::Stale`].
pub fn check_fresh(
    dir: &Path,
    meta: &Meta,
    now: &str,
    max_age: chrono::Duration,
) -> Result<(), DbError> {
    let stale = |age: String| DbError::Stale {
        dir: dir.to_owned(),
        newest: if meta.newest_modified.is_empty() {
            "(none)".to_owned()
        } else {
            meta.newest_modified.clone()
        },
        age,
        max: format_age(max_age),
    };
    match data_age(meta, now) {
        Some(age) if age <= max_age => Ok(()),
        Some(age) => Err(stale(format_age(age))),
        None => Err(stale("unknown time".to_owned())),
    }
}

/// Current time as RFC 3339 UTC, seconds precision.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Size in bytes of the current database files.
pub fn disk_size(data_dir: &Path) -> u64 {
    let dir = db_dir(data_dir);
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests;
