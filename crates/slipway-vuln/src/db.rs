//! The offline advisory database: OSV records imported from directories of JSON
//! files and from OSV.dev's per-ecosystem `all.zip` exports, stored in the data
//! directory and looked up by (ecosystem, package name) at scan time.
//!
//! Layout of `<data-dir>/osv/` (format [`FORMAT_VERSION`]):
//! - `records-<gen>.jsonl`: one compact OSV record per line, grouped by ecosystem;
//! - `index-<gen>.jsonl`: one [`IndexEntry`] per record (id, `modified`,
//!   `withdrawn`, aliases, lookup keys, byte offset and length in the records file);
//! - `match-<gen>.bin`: the matching index, one block per lookup key holding the
//!   affected entries of every record naming that key in a compact binary form
//!   (see `compact`), so a scan never parses the JSON of records that do not match;
//! - `keys-<gen>.jsonl`: `[ecosystem base, lookup name, offset, length]` of each block;
//! - `meta.json`: the current generation, counts per ecosystem and the times that
//!   say how old the data is. Writing `meta.json` (atomically, by rename) is the
//!   commit point of an import, so an interrupted import leaves the previous
//!   database intact.
//!
//! Opening loads only the key directory; a scan reads one block per package and
//! the full records of the matches. Imports parse records on several threads
//! (in input order, see `parallel`) and are incremental: a record replaces the stored copy only when
//! its `modified` is newer, and memory stays bounded by the index (records are
//! streamed to a spool file, never all held at once). Zip entries are read
//! through size caps, so a zip bomb costs a bounded amount of work.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::matching::{MatchReason, Query, Verdict, evaluate, listed_forms};
use crate::osv::{EcosystemName, Record, lookup_name};
use crate::scan::AdvisoryLookup;

mod compact;
mod parallel;

/// Version of the on-disk layout; a database of another version must be re-imported.
pub const FORMAT_VERSION: u32 = 2;

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
        "vulnerability database in {dir} has format {found}, this version reads format {FORMAT_VERSION}: re-import it with `slipway db import PATH...`"
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
///
/// Opening reads `meta.json` and the key directory only; the full index is read
/// on first use of [`Database::entries`] (imports need it, scans do not).
#[derive(Debug)]
pub struct Database {
    dir: PathBuf,
    meta: Meta,
    entries: OnceLock<Vec<IndexEntry>>,
    keys: HashMap<compact::Key, (u64, u32)>,
    records_path: PathBuf,
    records: File,
    match_path: PathBuf,
    matches: File,
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

fn match_file(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("match-{generation}.bin"))
}

fn keys_file(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("keys-{generation}.jsonl"))
}

/// Read `buf.len()` bytes at `offset` without moving a shared cursor, so
/// several threads can read one file.
#[cfg(unix)]
fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut offset: u64, mut buf: &mut [u8]) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
    // The format is checked before the rest, so an older layout gets the
    // "re-import" message rather than a parse error.
    let found = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format").and_then(serde_json::Value::as_u64));
    if let Some(found) = found
        && found != u64::from(FORMAT_VERSION)
    {
        return Err(DbError::Format {
            dir,
            found: u32::try_from(found).unwrap_or(u32::MAX),
        });
    }
    let meta: Meta = serde_json::from_str(&text).map_err(|e| DbError::Corrupt {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok(Some(meta))
}

fn read_keys(path: &Path) -> Result<HashMap<compact::Key, (u64, u32)>, DbError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut keys = HashMap::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        let (base, name, offset, len): (String, String, u64, u32) = serde_json::from_str(&line)
            .map_err(|e| DbError::Corrupt {
                path: path.to_owned(),
                message: format!("line {}: {e}", n + 1),
            })?;
        keys.insert((base, name), (offset, len));
    }
    Ok(keys)
}

impl Database {
    /// Open the database of `data_dir`.
    ///
    /// # Errors
    /// [`DbError::Missing`] when nothing was imported, [`DbError::Format`] when
    /// it was written by another version; damaged or unreadable files.
    pub fn open(data_dir: &Path) -> Result<Self, DbError> {
        let dir = db_dir(data_dir);
        let meta = read_meta(data_dir)?.ok_or_else(|| DbError::Missing { dir: dir.clone() })?;
        let keys = read_keys(&keys_file(&dir, meta.generation))?;
        let records_path = records_file(&dir, meta.generation);
        let records = File::open(&records_path).map_err(io_err(&records_path))?;
        let match_path = match_file(&dir, meta.generation);
        let matches = File::open(&match_path).map_err(io_err(&match_path))?;
        Ok(Database {
            dir,
            meta,
            entries: OnceLock::new(),
            keys,
            records_path,
            records,
            match_path,
            matches,
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

    /// The index, one entry per record (read on first use).
    ///
    /// # Errors
    /// When the index file cannot be read or is damaged.
    pub fn entries(&self) -> Result<&[IndexEntry], DbError> {
        if let Some(e) = self.entries.get() {
            return Ok(e);
        }
        let loaded = read_index(&index_file(&self.dir, self.meta.generation))?;
        Ok(self.entries.get_or_init(|| loaded))
    }

    /// Read the record of one index entry.
    ///
    /// # Errors
    /// When the records file cannot be read or the line is not a record.
    pub fn read_record(&self, entry: &IndexEntry) -> Result<Record, DbError> {
        self.record_at(entry.offset, entry.len, &entry.id)
    }

    fn record_at(&self, offset: u64, len: u32, what: &str) -> Result<Record, DbError> {
        let mut buf = vec![0u8; len as usize];
        read_at(&self.records, offset, &mut buf).map_err(io_err(&self.records_path))?;
        serde_json::from_slice(&buf).map_err(|e| DbError::Corrupt {
            path: self.records_path.clone(),
            message: format!("record {what} at byte {offset}: {e}"),
        })
    }
}

impl AdvisoryLookup for Database {
    type Error = DbError;

    fn affecting(
        &self,
        query: &Query<'_>,
        now: &str,
        f: &mut dyn FnMut(&Record, MatchReason),
    ) -> Result<(), DbError> {
        let key = (
            EcosystemName::parse(query.ecosystem).base,
            lookup_name(query.ecosystem, query.name),
        );
        let Some(&(offset, len)) = self.keys.get(&key) else {
            return Ok(());
        };
        let mut buf = vec![0u8; len as usize];
        read_at(&self.matches, offset, &mut buf).map_err(io_err(&self.match_path))?;
        let corrupt = |m: String| DbError::Corrupt {
            path: self.match_path.clone(),
            message: format!("block of {} {} at byte {offset}: {m}", key.0, key.1),
        };
        let forms = listed_forms(query);
        let keep = |v: &[u8]| forms.iter().any(|f| f.as_bytes() == v);
        for c in compact::decode_block(&buf, &keep).map_err(corrupt)? {
            let Verdict::Affected(mut reason) = evaluate(&c.slim, query, now) else {
                continue;
            };
            reason.affected_index = c
                .indexes
                .get(reason.affected_index)
                .copied()
                .ok_or_else(|| corrupt("entry index out of range".to_owned()))?;
            let record = self.record_at(c.offset, c.len, &format!("{}/{}", key.0, key.1))?;
            f(&record, reason);
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
    /// Entry `i` of the previous generation.
    Old(usize),
    /// In the spool: offset, JSON line length, fragments length (after the newline).
    Spool(u64, u32, u32),
}

/// A record read, parsed and re-serialized by a worker.
struct Prepared {
    source: String,
    raw_len: u64,
    id: String,
    modified: String,
    line: Vec<u8>,
    fragments: Vec<u8>,
    entry: IndexEntry,
}

/// What a worker made of one input file or zip entry.
enum Outcome {
    /// Not a record file (a directory entry, a README).
    Ignore,
    /// Could not be used; `raw_len` bytes were read (counted against the archive cap).
    Skip { skipped: Skipped, raw_len: u64 },
    /// A record.
    Record(Box<Prepared>),
}

fn skip(source: &str, reason: impl Into<String>, raw_len: u64) -> Outcome {
    Outcome::Skip {
        skipped: Skipped {
            source: source.to_owned(),
            reason: reason.into(),
        },
        raw_len,
    }
}

/// Read at most `max` bytes of one record.
fn read_limited(
    source: &str,
    reader: impl Read,
    declared: Option<u64>,
    max: u64,
) -> Result<Vec<u8>, Outcome> {
    if declared.is_some_and(|d| d > max) {
        return Err(skip(source, format!("over the {max} byte record limit"), 0));
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(max) as usize);
    match reader.take(max + 1).read_to_end(&mut buf) {
        Ok(_) if buf.len() as u64 > max => {
            Err(skip(source, format!("over the {max} byte record limit"), 0))
        }
        Ok(_) => Ok(buf),
        Err(e) => Err(skip(source, e.to_string(), 0)),
    }
}

/// Parse a record and prepare what is stored: its compact line (without the
/// long `details` text and per-entry `ecosystem_specific` data, which matching
/// and reports do not use), its index entry and its matching fragments.
fn prepare(source: String, bytes: &[u8]) -> Outcome {
    let raw_len = bytes.len() as u64;
    let mut record: Record = match serde_json::from_slice(bytes) {
        Ok(r) => r,
        Err(e) => {
            return skip(
                &source,
                format!("line {}, column {}: {e}", e.line(), e.column()),
                raw_len,
            );
        }
    };
    if record.id.trim().is_empty() {
        return skip(&source, "record has no id", raw_len);
    }
    record.details = None;
    for a in &mut record.affected {
        a.ecosystem_specific = None;
    }
    let line = match serde_json::to_vec(&record) {
        Ok(l) => l,
        Err(e) => return skip(&source, e.to_string(), raw_len),
    };
    if u32::try_from(line.len()).is_err() {
        return skip(&source, "record too large", raw_len);
    }
    let fragments = compact::encode_fragments(&compact::fragments(&record));
    let entry = IndexEntry::of(&record, 0, 0);
    Outcome::Record(Box::new(Prepared {
        source,
        raw_len,
        id: record.id,
        modified: record.modified,
        line,
        fragments,
        entry,
    }))
}

fn prepare_file(path: &Path, max: u64) -> Outcome {
    let source = path.display().to_string();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return skip(&source, e.to_string(), 0),
    };
    let declared = file.metadata().ok().map(|m| m.len());
    match read_limited(&source, file, declared, max) {
        Ok(bytes) => prepare(source, &bytes),
        Err(o) => o,
    }
}

type Zip = zip::ZipArchive<BufReader<File>>;

fn open_zip(path: &Path) -> Result<Zip, DbError> {
    let file = File::open(path).map_err(io_err(path))?;
    zip::ZipArchive::new(BufReader::with_capacity(64 * 1024, file)).map_err(|e| DbError::Input {
        path: path.to_owned(),
        message: format!("not a readable zip archive: {e}"),
    })
}

/// A worker's zip reader: its own handle on the archive and one inflater,
/// reset for every entry. (A fresh inflater per entry allocates a large
/// aligned window each time, which fragments the heap: hundreds of MB over an
/// OSV export of 200,000 records.)
struct ZipWorker {
    archive: Option<Zip>,
    inflater: flate2::Decompress,
    raw: Vec<u8>,
}

impl ZipWorker {
    fn new(path: &Path) -> Self {
        ZipWorker {
            archive: open_zip(path).ok(),
            inflater: flate2::Decompress::new(false),
            raw: Vec::new(),
        }
    }
}

/// Inflate `input` (raw deflate) into at most `max` bytes.
fn inflate(
    inflater: &mut flate2::Decompress,
    input: &[u8],
    declared: u64,
    max: u64,
) -> Result<Vec<u8>, String> {
    inflater.reset(false);
    let mut out: Vec<u8> = Vec::with_capacity(declared.min(max) as usize + 64);
    loop {
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or(&[]);
        let before = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress_vec(rest, &mut out, flate2::FlushDecompress::Finish)
            .map_err(|e| format!("damaged deflate data: {e}"))?;
        if out.len() as u64 > max {
            return Err(format!("over the {max} byte record limit"));
        }
        if status == flate2::Status::StreamEnd {
            return Ok(out);
        }
        if out.len() == out.capacity() {
            let more = (out.capacity() as u64).clamp(4096, max + 1) as usize;
            out.reserve(more);
        } else if before == (inflater.total_in(), inflater.total_out()) {
            return Err("truncated deflate data".to_owned());
        }
    }
}

fn prepare_zip_entry(worker: &mut ZipWorker, path: &Path, i: usize, max: u64) -> Outcome {
    let ZipWorker {
        archive,
        inflater,
        raw,
    } = worker;
    let Some(archive) = archive.as_mut() else {
        return skip(
            &format!("{}:#{i}", path.display()),
            "cannot reopen the archive",
            0,
        );
    };
    let mut entry = match archive.by_index_raw(i) {
        Ok(e) => e,
        Err(e) => return skip(&format!("{}:#{i}", path.display()), e.to_string(), 0),
    };
    let name = entry
        .name()
        .map(|n| n.into_owned())
        .unwrap_or_else(|_| format!("#{i}"));
    if entry.is_dir() || !name.ends_with(".json") {
        return Outcome::Ignore;
    }
    let source = format!("{}:{name}", path.display());
    let declared = entry.size();
    if declared > max {
        return skip(&source, format!("over the {max} byte record limit"), 0);
    }
    // Deflate never inflates data by more than a small factor, so compressed
    // input far above the record limit cannot be a record within it.
    let compressed = entry.compressed_size();
    if compressed > max + max / 8 + 1024 {
        return skip(&source, format!("over the {max} byte record limit"), 0);
    }
    raw.clear();
    if let Err(e) = (&mut entry).take(compressed).read_to_end(raw) {
        return skip(&source, e.to_string(), 0);
    }
    let (method, crc) = (entry.compression(), entry.crc32());
    drop(entry);
    let bytes = match method {
        zip::CompressionMethod::Stored => {
            if raw.len() as u64 > max {
                return skip(&source, format!("over the {max} byte record limit"), 0);
            }
            raw.clone()
        }
        zip::CompressionMethod::Deflated => match inflate(inflater, raw, declared, max) {
            Ok(b) => b,
            Err(reason) => return skip(&source, reason, 0),
        },
        other => {
            return skip(
                &source,
                format!("unsupported compression method {other:?}"),
                0,
            );
        }
    };
    if crc32fast::hash(&bytes) != crc {
        return skip(&source, "CRC-32 mismatch: damaged archive entry", 0);
    }
    prepare(source, &bytes)
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
    /// Take one worker outcome, in input order.
    fn accept(&mut self, outcome: Outcome) -> Result<(), DbError> {
        let p = match outcome {
            Outcome::Ignore => return Ok(()),
            Outcome::Skip { skipped, .. } => {
                self.report.skipped.push(skipped);
                return Ok(());
            }
            Outcome::Record(p) => p,
        };
        self.report.read += 1;
        if let Some((modified, _, _)) = self.chosen.get(&p.id)
            && *modified >= p.modified
        {
            self.report.unchanged += 1;
            return Ok(());
        }
        let offset = self.spool_len;
        let spool_err = io_err(&self.spool_path);
        self.spool
            .write_all(&p.line)
            .and_then(|()| self.spool.write_all(b"\n"))
            .and_then(|()| self.spool.write_all(&p.fragments))
            .map_err(spool_err)?;
        let (line_len, frag_len) = (len32(&p.line, &p.source)?, len32(&p.fragments, &p.source)?);
        self.spool_len += u64::from(line_len) + 1 + u64::from(frag_len);
        let Prepared {
            id,
            modified,
            entry,
            ..
        } = *p;
        self.chosen.insert(
            id,
            (
                modified,
                Loc::Spool(offset, line_len, frag_len),
                Some(entry),
            ),
        );
        Ok(())
    }

    fn import_files(&mut self, files: &[PathBuf]) -> Result<(), DbError> {
        let max = self.options.max_record_bytes;
        parallel::ordered_map(
            files.len(),
            parallel::workers(),
            || (),
            |(), i| prepare_file(&files[i], max),
            |o| self.accept(o).map(|()| true),
        )
    }

    fn import_zip(&mut self, path: &Path) -> Result<(), DbError> {
        let archive = open_zip(path)?;
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
        drop(archive);
        let max = self.options.max_record_bytes;
        let max_total = self.options.max_archive_bytes;
        let mut total: u64 = 0;
        parallel::ordered_map(
            count,
            parallel::workers(),
            || ZipWorker::new(path),
            |worker, i| prepare_zip_entry(worker, path, i, max),
            |o| {
                let raw = match &o {
                    Outcome::Record(p) => p.raw_len,
                    Outcome::Skip { raw_len, .. } => *raw_len,
                    Outcome::Ignore => 0,
                };
                total += raw;
                if total > max_total {
                    self.report.skipped.push(Skipped {
                        source: path.display().to_string(),
                        reason: format!(
                            "stopped after {total} uncompressed bytes (limit {max_total}): the rest of the archive was not read"
                        ),
                    });
                    return Ok(false);
                }
                self.accept(o).map(|()| true)
            },
        )
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
            // Runs of JSON files are read in parallel; zips in between keep their place.
            let mut run: Vec<PathBuf> = Vec::new();
            for f in files {
                if f.extension().is_some_and(|x| x == "zip") {
                    self.import_files(&std::mem::take(&mut run))?;
                    if let Err(e) = self.import_zip(&f) {
                        self.report.skipped.push(Skipped {
                            source: f.display().to_string(),
                            reason: e.to_string(),
                        });
                    }
                } else {
                    run.push(f);
                }
            }
            self.import_files(&run)
        } else if path.extension().is_some_and(|x| x == "zip") {
            self.import_zip(path)
        } else {
            self.import_files(&[path.to_owned()])
        }
    }
}

fn len32(bytes: &[u8], source: &str) -> Result<u32, DbError> {
    u32::try_from(bytes.len()).map_err(|_| DbError::Input {
        path: PathBuf::from(source),
        message: "record too large".to_owned(),
    })
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
    // A database of another format cannot be merged into: the import starts afresh
    // (that is the "re-import" the format error asks for).
    let (old, generation) = match Database::open(data_dir) {
        Ok(db) => {
            let g = db.meta.generation + 1;
            (Some(db), g)
        }
        Err(DbError::Missing { .. }) => (None, 1),
        Err(DbError::Format { .. }) => (None, stored_generation(&dir).map_or(1, |g| g + 1)),
        Err(e) => return Err(e),
    };
    let old_entries = match &old {
        Some(db) => db.entries()?,
        None => &[],
    };
    let spool_path = dir.join(format!("spool-{generation}.tmp"));
    let spool = File::create(&spool_path).map_err(io_err(&spool_path))?;
    let mut importer = Importer {
        options,
        spool: BufWriter::with_capacity(1 << 20, spool),
        spool_path: spool_path.clone(),
        spool_len: 0,
        chosen: HashMap::new(),
        report: ImportReport::default(),
        old_ids: HashMap::new(),
    };
    for (i, e) in old_entries.iter().enumerate() {
        importer.old_ids.insert(e.id.clone(), i);
        importer
            .chosen
            .insert(e.id.clone(), (e.modified.clone(), Loc::Old(i), None));
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
    drop(old);
    // Older generations (and files of older formats) are unreachable once
    // meta.json points at the new one.
    remove_other_generations(&dir, generation);
    let mut report = importer.report;
    report.meta = meta;
    Ok(report)
}

/// The generation a `meta.json` of any format names.
fn stored_generation(dir: &Path) -> Option<u64> {
    let text = fs_err::read_to_string(dir.join("meta.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("generation")?.as_u64()
}

fn remove_other_generations(dir: &Path, generation: u64) {
    let keep = [
        records_file(dir, generation),
        index_file(dir, generation),
        match_file(dir, generation),
        keys_file(dir, generation),
    ];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = ["records-", "index-", "match-", "keys-"]
            .iter()
            .any(|prefix| name.starts_with(prefix));
        if ours && !keep.contains(&p) {
            let _ = std::fs::remove_file(&p);
        }
    }
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
    let match_path = match_file(dir, generation);
    let keys_path = keys_file(dir, generation);
    let create = |p: &Path| -> Result<BufWriter<File>, DbError> {
        Ok(BufWriter::with_capacity(
            1 << 20,
            File::create(p).map_err(io_err(p))?,
        ))
    };
    let mut records = create(&records_path)?;
    let mut index = create(&index_path)?;
    let old_entries = match old {
        Some(db) => db.entries()?,
        None => &[],
    };

    // Group by ecosystem then id, so records of one ecosystem sit together on disk.
    let chosen = std::mem::take(&mut importer.chosen);
    let first_eco = |v: &Chosen| -> String {
        match (&v.2, v.1) {
            (Some(e), _) => e.ecosystems.first().cloned().unwrap_or_default(),
            (None, Loc::Old(i)) => old_entries
                .get(i)
                .and_then(|e| e.ecosystems.first().cloned())
                .unwrap_or_default(),
            _ => String::new(),
        }
    };
    let mut keyed: Vec<(String, &String, &Chosen)> =
        chosen.iter().map(|(id, v)| (first_eco(v), id, v)).collect();
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
    // Matching blocks by key, filled as records are written (their offsets known).
    let mut blocks: HashMap<compact::Key, (u32, Vec<u8>)> = HashMap::new();
    let mut offset: u64 = 0;
    let mut buf = Vec::new();
    for (_, id, (modified, loc, fresh)) in keyed {
        let (mut entry, line_len, fragments) = match (loc, fresh, old) {
            (Loc::Spool(off, line_len, frag_len), Some(e), _) => {
                let (line_len, frag_len) = (*line_len as usize, *frag_len as usize);
                buf.resize(line_len + 1 + frag_len, 0);
                read_at(&spool, *off, &mut buf).map_err(io_err(&spool_path))?;
                if importer.old_ids.contains_key(id.as_str()) {
                    importer.report.updated += 1;
                } else {
                    importer.report.added += 1;
                }
                if e.withdrawn.is_some() {
                    importer.report.withdrawn += 1;
                }
                let fragments = compact::decode_fragments(&buf[line_len + 1..]).map_err(|m| {
                    DbError::Corrupt {
                        path: spool_path.clone(),
                        message: format!("record {id}: {m}"),
                    }
                })?;
                (e.clone(), line_len, fragments)
            }
            (Loc::Old(i), _, Some(db)) => {
                let Some(e) = old_entries.get(*i) else {
                    continue;
                };
                buf.resize(e.len as usize, 0);
                read_at(&db.records, e.offset, &mut buf).map_err(io_err(&db.records_path))?;
                let record: Record =
                    serde_json::from_slice(&buf).map_err(|err| DbError::Corrupt {
                        path: db.records_path.clone(),
                        message: format!("record {} at byte {}: {err}", e.id, e.offset),
                    })?;
                (e.clone(), buf.len(), compact::fragments(&record))
            }
            _ => continue,
        };
        entry.offset = offset;
        entry.len = u32::try_from(line_len).unwrap_or(u32::MAX);
        records
            .write_all(&buf[..line_len])
            .and_then(|()| records.write_all(b"\n"))
            .map_err(io_err(&records_path))?;
        for (key, fragment) in &fragments {
            let block = blocks.entry(key.clone()).or_default();
            compact::push_block_item(block, offset, entry.len, fragment);
        }
        offset += line_len as u64 + 1;
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

    // The matching index: blocks in key order, and the key directory.
    let mut matches = create(&match_path)?;
    let mut keys = create(&keys_path)?;
    let mut sorted: Vec<(compact::Key, (u32, Vec<u8>))> = blocks.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut moffset: u64 = 0;
    for ((base, name), (count, bytes)) in sorted {
        let len = bytes.len() as u64 + 4;
        matches
            .write_all(&count.to_le_bytes())
            .and_then(|()| matches.write_all(&bytes))
            .map_err(io_err(&match_path))?;
        let line =
            serde_json::to_string(&(base, name, moffset, len)).map_err(|e| DbError::Corrupt {
                path: keys_path.clone(),
                message: e.to_string(),
            })?;
        keys.write_all(line.as_bytes())
            .and_then(|()| keys.write_all(b"\n"))
            .map_err(io_err(&keys_path))?;
        moffset += len;
    }

    for (w, p) in [
        (records, &records_path),
        (index, &index_path),
        (matches, &match_path),
        (keys, &keys_path),
    ] {
        w.into_inner()
            .map_err(|e| io_err(p)(e.into_error()))?
            .sync_all()
            .map_err(io_err(p))?;
    }
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
