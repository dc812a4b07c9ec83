//! Reading YAML/JSON documents with their source locations.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use slipway_model::{Document, SourceLocation};

/// Files larger than this are refused: a manifest this big is a mistake or an
/// attack, and reading it whole would cost memory the rest of the run needs.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// What went wrong while loading.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file or directory could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A document did not parse.
    #[error("{location}: invalid {format}: {message}")]
    Parse {
        /// Where (file, document, line of the error when known).
        location: SourceLocation,
        /// `YAML` or `JSON`.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{path}: file is {size} bytes, more than the {limit} byte limit for a manifest")]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is not text.
    #[error("{path}: not a text file (it contains NUL bytes or invalid UTF-8)")]
    NotText {
        /// The path.
        path: PathBuf,
    },
}

/// Options for loading.
#[derive(Debug, Clone)]
pub struct Loader {
    /// Expand `kind: List` (and `*List` kinds with `items`) into their items.
    pub expand_lists: bool,
    /// Keep documents that are empty (`null`). Off by default.
    pub keep_empty: bool,
}

impl Default for Loader {
    fn default() -> Self {
        Self {
            expand_lists: true,
            keep_empty: false,
        }
    }
}

/// Loads a file, a directory (recursively: `*.yaml`, `*.yml`, `*.json`), or `-` for stdin.
pub fn load_path(path: &Path) -> Result<Vec<Document>, LoadError> {
    Loader::default().load_path(path)
}

/// Loads several paths in order.
pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<Document>, LoadError> {
    let loader = Loader::default();
    let mut out = Vec::new();
    for p in paths {
        out.extend(loader.load_path(p.as_ref())?);
    }
    Ok(out)
}

/// Parses text that came from `file` (a label used in locations).
pub fn load_str(text: &str, file: &str) -> Result<Vec<Document>, LoadError> {
    Loader::default().load_str(text, file)
}

fn is_manifest_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

impl Loader {
    /// Loads a file, a directory (recursively, sorted), or `-` for stdin.
    pub fn load_path(&self, path: &Path) -> Result<Vec<Document>, LoadError> {
        if path.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .take(MAX_FILE_BYTES + 1)
                .read_to_end(&mut buf)
                .map_err(|source| LoadError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            return self.load_bytes(&buf, path);
        }
        let meta = fs_err::metadata(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = Vec::new();
            for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                let entry = entry.map_err(|e| LoadError::Io {
                    path: e
                        .path()
                        .map_or_else(|| path.to_path_buf(), Path::to_path_buf),
                    source: e.into(),
                })?;
                if entry.file_type().is_file() && is_manifest_file(entry.path()) {
                    files.push(entry.into_path());
                }
            }
            let mut out = Vec::new();
            for f in files {
                out.extend(self.load_file(&f)?);
            }
            Ok(out)
        } else {
            self.load_file(path)
        }
    }

    fn load_file(&self, path: &Path) -> Result<Vec<Document>, LoadError> {
        let size = fs_err::metadata(path)
            .map_err(|source| LoadError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(LoadError::TooLarge {
                path: path.to_path_buf(),
                size,
                limit: MAX_FILE_BYTES,
            });
        }
        let bytes = fs_err::read(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.load_bytes(&bytes, path)
    }

    fn load_bytes(&self, bytes: &[u8], path: &Path) -> Result<Vec<Document>, LoadError> {
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(LoadError::TooLarge {
                path: path.to_path_buf(),
                size: bytes.len() as u64,
                limit: MAX_FILE_BYTES,
            });
        }
        if bytes.contains(&0) {
            return Err(LoadError::NotText {
                path: path.to_path_buf(),
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| LoadError::NotText {
            path: path.to_path_buf(),
        })?;
        let label = path.display().to_string();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            self.load_json(text, &label)
        } else {
            self.load_str(text, &label)
        }
    }

    /// Parses a JSON stream (one or more concatenated values).
    pub fn load_json(&self, text: &str, file: &str) -> Result<Vec<Document>, LoadError> {
        let mut out = Vec::new();
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        let mut index = 0;
        loop {
            let offset = stream.byte_offset();
            match stream.next() {
                None => break,
                Some(Ok(value)) => {
                    let line = line_of_first_content(text, offset);
                    self.push(&mut out, value, SourceLocation::new(file, index, line));
                    index += 1;
                }
                Some(Err(e)) => {
                    return Err(LoadError::Parse {
                        location: SourceLocation::new(file, index, e.line()),
                        format: "JSON",
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Parses multi-document YAML text.
    pub fn load_str(&self, text: &str, file: &str) -> Result<Vec<Document>, LoadError> {
        let mut out = Vec::new();
        for (index, chunk) in split_documents(text).into_iter().enumerate() {
            if chunk.text.trim().is_empty() {
                continue;
            }
            let value: Value = match serde_saphyr::from_str(chunk.text) {
                Ok(v) => v,
                Err(e) => {
                    let (line, message) = describe_yaml_error(&e, chunk.first_line);
                    return Err(LoadError::Parse {
                        location: SourceLocation::new(file, index, line),
                        format: "YAML",
                        message,
                    });
                }
            };
            let line = chunk.first_line + leading_blank_or_comment_lines(chunk.text);
            self.push(&mut out, value, SourceLocation::new(file, index, line));
        }
        Ok(out)
    }

    fn push(&self, out: &mut Vec<Document>, value: Value, source: SourceLocation) {
        if value.is_null() && !self.keep_empty {
            return;
        }
        if self.expand_lists
            && is_list(&value)
            && let Some(Value::Array(items)) = value.get("items")
        {
            for item in items {
                out.push(Document::new(item.clone(), source.clone()));
            }
            return;
        }
        out.push(Document::new(value, source));
    }
}

fn is_list(value: &Value) -> bool {
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    kind.ends_with("List") && value.get("items").is_some_and(Value::is_array)
}

struct Chunk<'a> {
    text: &'a str,
    /// 1-based line of the chunk's first line in the file.
    first_line: usize,
}

/// Splits YAML text on `---` document markers at column 0. A marker may carry
/// content after it (`--- {a: 1}`); that content belongs to the new document.
fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (line_no, line) in (1usize..).zip(text.split_inclusive('\n')) {
        let trimmed = line.trim_end_matches(['\n', '\r']);
        let is_marker = trimmed == "---"
            || trimmed.starts_with("--- ")
            || trimmed.starts_with("---\t")
            || trimmed == "...";
        if is_marker {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line: start_line,
            });
            if trimmed == "..." || trimmed == "---" {
                start = offset + line.len();
                start_line = line_no + 1;
            } else {
                // Keep the content after `--- ` on this line.
                start = offset + 4;
                start_line = line_no;
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

fn leading_blank_or_comment_lines(text: &str) -> usize {
    text.lines()
        .take_while(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#') || t.starts_with('%')
        })
        .count()
}

fn line_of_first_content(text: &str, offset: usize) -> usize {
    let rest = &text[offset.min(text.len())..];
    let skipped = rest.len() - rest.trim_start().len();
    text[..offset.min(text.len()) + skipped]
        .matches('\n')
        .count()
        + 1
}

fn describe_yaml_error(e: &serde_saphyr::Error, first_line: usize) -> (usize, String) {
    let message = e.to_string();
    let line = e
        .location()
        .map(|loc| first_line + loc.line() as usize - 1)
        .unwrap_or(first_line);
    (line, message)
}

#[cfg(test)]
mod tests;
