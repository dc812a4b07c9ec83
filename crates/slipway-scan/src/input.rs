//! Reading scan inputs: files, directories (recursively) and standard input, split into
//! documents with their file, document index and line.
//!
//! Unlike a loader that stops at the first problem, every problem here is reported for its own
//! file or document and the rest is still read: a binary file, an oversized file or a document
//! that does not parse (syntax error, alias bomb, nesting beyond the parser's budget) yields an
//! [`InputError`] and the walk goes on. Memory stays bounded by [`MAX_INPUT_BYTES`] per file
//! and by the YAML parser's budget per document.
//!
//! Splitting follows KubeSec where it matters for results: an input that is one JSON value is
//! one document (a JSON array or a `List` is *not* expanded), otherwise the text is cut at
//! `---` lines. Unlike KubeSec, a separator followed by a comment (`--- # x`) still splits,
//! instead of silently dropping the documents after it.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use slipway_manifests::{LoadError, Loader};
use slipway_model::{Document, SourceLocation};

/// Files larger than this are reported and skipped.
pub const MAX_INPUT_BYTES: u64 = 32 * 1024 * 1024;

/// The label of standard input in reports (KubeSec's `fileName`).
pub const STDIN_LABEL: &str = "STDIN";

/// A problem with one input file or document.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The path could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is over [`MAX_INPUT_BYTES`].
    #[error("{path}: file is {size} bytes, more than the {limit} byte limit")]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is binary.
    #[error("{path}: not a text file (it contains NUL bytes or invalid UTF-8)")]
    NotText {
        /// The path.
        path: PathBuf,
    },
    /// One document did not parse; the others in the file are still read.
    #[error("{location}: invalid YAML: {message}")]
    Parse {
        /// File, document index and line of the error.
        location: SourceLocation,
        /// The parser's message.
        message: String,
    },
    /// A file named on the command line holds no document at all.
    #[error("{path}: invalid input: no documents")]
    Empty {
        /// The path.
        path: PathBuf,
    },
}

/// Reads every path in order and passes each document or problem to `visit`.
/// Directories are walked recursively in name order, reading `*.yaml`, `*.yml` and `*.json`
/// and skipping hidden entries; `-` reads standard input.
///
/// Files are parsed on all available cores, but `visit` is called on the calling thread in
/// input order, so results stay deterministic. Only files parsed ahead of the one being
/// delivered are held in memory.
pub fn read_paths<P: AsRef<Path>>(
    paths: &[P],
    visit: &mut dyn FnMut(Result<Document, InputError>),
) {
    let sources = enumerate(paths);
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(sources.len());
    if threads <= 1 {
        for source in sources {
            read_source(source, visit);
        }
        return;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<Result<Document, InputError>>)>();
    let sources: Vec<std::sync::Mutex<Option<Source>>> = sources
        .into_iter()
        .map(|s| std::sync::Mutex::new(Some(s)))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, sources) = (&next, &sources);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(slot) = sources.get(i) else { break };
                    let source = slot.lock().ok().and_then(|mut s| s.take());
                    let mut items = Vec::new();
                    if let Some(source) = source {
                        read_source(source, &mut |item| items.push(item));
                    }
                    if tx.send((i, items)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut want = 0usize;
        for (i, items) in rx {
            pending.insert(i, items);
            while let Some(items) = pending.remove(&want) {
                items.into_iter().for_each(&mut *visit);
                want += 1;
            }
        }
    });
}

/// One input to read.
enum Source {
    Stdin,
    File { path: PathBuf, explicit: bool },
    Failed(InputError),
}

fn enumerate<P: AsRef<Path>>(paths: &[P]) -> Vec<Source> {
    let mut out = Vec::new();
    for path in paths {
        let path = path.as_ref();
        if path.as_os_str() == "-" {
            out.push(Source::Stdin);
            continue;
        }
        match fs_err::metadata(path) {
            Err(source) => out.push(Source::Failed(InputError::Io {
                path: path.to_path_buf(),
                source,
            })),
            Ok(meta) if meta.is_dir() => {
                let walker = walkdir::WalkDir::new(path)
                    .sort_by_file_name()
                    .into_iter()
                    .filter_entry(|e| {
                        e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                    });
                for entry in walker {
                    match entry {
                        Err(e) => out.push(Source::Failed(InputError::Io {
                            path: e
                                .path()
                                .map_or_else(|| path.to_path_buf(), Path::to_path_buf),
                            source: e.into(),
                        })),
                        Ok(entry) if entry.file_type().is_file() && is_manifest(entry.path()) => {
                            out.push(Source::File {
                                path: entry.into_path(),
                                explicit: false,
                            });
                        }
                        Ok(_) => {}
                    }
                }
            }
            Ok(_) => out.push(Source::File {
                path: path.to_path_buf(),
                explicit: true,
            }),
        }
    }
    out
}

fn read_source(source: Source, visit: &mut dyn FnMut(Result<Document, InputError>)) {
    match source {
        Source::Failed(e) => visit(Err(e)),
        Source::File { path, explicit } => read_file(&path, explicit, visit),
        Source::Stdin => {
            let path = Path::new("-");
            let mut buf = Vec::new();
            if let Err(source) = std::io::stdin()
                .take(MAX_INPUT_BYTES + 1)
                .read_to_end(&mut buf)
            {
                return visit(Err(InputError::Io {
                    path: path.to_path_buf(),
                    source,
                }));
            }
            read_bytes(&buf, path, STDIN_LABEL, true, visit);
        }
    }
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn read_file(path: &Path, explicit: bool, visit: &mut dyn FnMut(Result<Document, InputError>)) {
    let size = match fs_err::metadata(path) {
        Ok(m) => m.len(),
        Err(source) => {
            return visit(Err(InputError::Io {
                path: path.to_path_buf(),
                source,
            }));
        }
    };
    if size > MAX_INPUT_BYTES {
        return visit(Err(InputError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_INPUT_BYTES,
        }));
    }
    match fs_err::read(path) {
        Ok(bytes) => read_bytes(&bytes, path, &path.display().to_string(), explicit, visit),
        Err(source) => visit(Err(InputError::Io {
            path: path.to_path_buf(),
            source,
        })),
    }
}

fn read_bytes(
    bytes: &[u8],
    path: &Path,
    label: &str,
    explicit: bool,
    visit: &mut dyn FnMut(Result<Document, InputError>),
) {
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return visit(Err(InputError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit: MAX_INPUT_BYTES,
        }));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) if !bytes.contains(&0) => t,
        _ => {
            return visit(Err(InputError::NotText {
                path: path.to_path_buf(),
            }));
        }
    };
    let mut seen = 0usize;
    read_text(text, label, &mut |item| {
        seen += 1;
        visit(item);
    });
    if seen == 0 && explicit {
        visit(Err(InputError::Empty {
            path: path.to_path_buf(),
        }));
    }
}

/// Splits `text` (read from `file`) into documents; see the module docs for the rules.
pub fn read_text(text: &str, file: &str, visit: &mut dyn FnMut(Result<Document, InputError>)) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(value) = serde_json::from_str::<Value>(text)
    {
        let line = text[..text.len() - trimmed.len()].matches('\n').count() + 1;
        return visit(Ok(Document::new(value, SourceLocation::new(file, 0, line))));
    }
    let loader = Loader {
        expand_lists: false,
        keep_empty: false,
    };
    for (index, chunk) in split(text).into_iter().enumerate() {
        if !has_content(chunk.text) {
            continue;
        }
        let offset = chunk.first_line - 1;
        match loader.load_str(chunk.text, file) {
            Ok(docs) => {
                for mut doc in docs {
                    doc.source.document = index;
                    doc.source.line += offset;
                    visit(Ok(doc));
                }
            }
            Err(LoadError::Parse {
                location, message, ..
            }) => visit(Err(InputError::Parse {
                location: SourceLocation::new(file, index, location.line + offset),
                message,
            })),
            Err(other) => visit(Err(InputError::Parse {
                location: SourceLocation::new(file, index, chunk.first_line),
                message: other.to_string(),
            })),
        }
    }
}

struct Chunk<'a> {
    text: &'a str,
    /// 1-based line of the chunk's first line.
    first_line: usize,
}

/// Cuts at `---` and `...` lines in column 0. Content after `--- ` on the marker line (other
/// than a comment) belongs to the next document.
fn split(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let (mut start, mut start_line, mut offset) = (0usize, 1usize, 0usize);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let rest = bare
            .strip_prefix("---")
            .or_else(|| bare.strip_prefix("..."));
        let is_marker = rest.is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']));
        if is_marker {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line: start_line,
            });
            let rest = rest.unwrap_or_default().trim();
            if rest.is_empty() || rest.starts_with('#') || bare.starts_with("...") {
                start = offset + line.len();
                start_line = i + 2;
            } else {
                start = offset + 4;
                start_line = i + 1;
            }
        }
        offset += line.len();
    }
    chunks.push(Chunk {
        text: &text[start..],
        first_line: start_line,
    });
    chunks
}

fn has_content(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Result<Document, String>> {
        let mut out = Vec::new();
        read_text(text, "f.yaml", &mut |r| {
            out.push(r.map_err(|e| e.to_string()))
        });
        out
    }

    #[test]
    fn splits_documents_with_lines() {
        let docs = read("---\na: 1\n---\n# c\nb: 2\n--- # note\nc: 3\n");
        let lines: Vec<usize> = docs
            .iter()
            .map(|d| d.as_ref().unwrap().source.line)
            .collect();
        assert_eq!(lines, vec![2, 5, 7]);
    }

    #[test]
    fn a_bad_document_does_not_stop_the_rest() {
        let docs = read("a: 1\n---\nb: [unclosed\n---\nc: 3\n");
        assert_eq!(docs.len(), 3);
        assert!(docs[0].is_ok() && docs[2].is_ok());
        let err = docs[1].as_ref().unwrap_err();
        assert!(
            err.starts_with("f.yaml:3 (document 2): invalid YAML"),
            "{err}"
        );
    }

    #[test]
    fn whole_json_is_one_document_and_lists_stay_whole() {
        let docs = read("{\"kind\": \"List\", \"items\": [{\"kind\": \"Pod\"}]}");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].as_ref().unwrap().object["kind"], "List");
    }

    #[test]
    fn alias_bomb_is_a_document_error() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in 'b'..='z' {
            bomb.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = name;
        }
        let docs = read(&format!("{bomb}---\nok: 1\n"));
        assert_eq!(docs.len(), 2);
        assert!(docs[0].is_err());
        assert!(docs[1].is_ok());
    }

    #[test]
    fn deep_nesting_is_a_document_error() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let docs = read(&format!("a: {deep}\n---\nok: 1\n"));
        assert!(docs[0].is_err());
        assert!(docs[1].is_ok());
    }

    #[test]
    fn binary_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("x.yaml");
        fs_err::write(&bin, b"a: \x00\x01").unwrap();
        let empty = dir.path().join("e.yaml");
        fs_err::write(&empty, b"# only a comment\n").unwrap();
        let mut errs = Vec::new();
        read_paths(&[&bin, &empty], &mut |r| {
            errs.push(r.map(|_| ()).map_err(|e| e.to_string()))
        });
        assert_eq!(errs.len(), 2);
        assert!(errs[0].as_ref().unwrap_err().contains("not a text file"));
        assert!(errs[1].as_ref().unwrap_err().contains("no documents"));
        // Inside a directory an empty file is simply skipped.
        let mut n = 0;
        read_paths(&[dir.path()], &mut |_| n += 1);
        assert_eq!(n, 1);
    }

    #[test]
    fn many_files_arrive_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..40 {
            let text = format!("a: {i}\n---\nb: {i}\n");
            fs_err::write(dir.path().join(format!("f{i:02}.yaml")), text).unwrap();
        }
        let mut seen = Vec::new();
        read_paths(&[dir.path()], &mut |r| seen.push(r.unwrap().source.file));
        assert_eq!(seen.len(), 80);
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted);
    }
}
