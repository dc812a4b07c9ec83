//! Documents with their source location.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a document came from. `line` is 1-based and points at the first line of
/// the document's content (after a `---` separator and leading comments).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct SourceLocation {
    /// The file as the user named it, or `-` for standard input.
    pub file: String,
    /// 0-based index of the YAML document within the file.
    pub document: usize,
    /// 1-based line of the document's first content line.
    pub line: usize,
}

impl SourceLocation {
    /// A location in `file`, document `document`, at `line`.
    pub fn new(file: impl Into<String>, document: usize, line: usize) -> Self {
        Self {
            file: file.into(),
            document,
            line,
        }
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} (document {})",
            self.file,
            self.line,
            self.document + 1
        )
    }
}

/// One Kubernetes object (or any YAML/JSON document) with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The parsed content.
    pub object: serde_json::Value,
    /// Where it was read.
    pub source: SourceLocation,
}

impl Document {
    /// A document with a location.
    pub fn new(object: serde_json::Value, source: SourceLocation) -> Self {
        Self { object, source }
    }
}
