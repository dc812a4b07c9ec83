//! Git sources: a bare mirror per repository URL under `<data-dir>/git/`,
//! fetched with gix (file://, http://, https://), revisions resolved to commit
//! ids (branch, tag, full or short SHA, `HEAD`), and trees read straight from
//! the object database without a checkout.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use sha2::{Digest, Sha256};

/// A Git operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The mirror could not be created or opened.
    #[error("repository {url}: cannot open the local mirror at {path}: {message}")]
    Mirror {
        /// Repository URL.
        url: String,
        /// Mirror path.
        path: PathBuf,
        /// Cause.
        message: String,
    },
    /// Fetching failed.
    #[error("repository {url}: fetch failed: {message}")]
    Fetch {
        /// Repository URL.
        url: String,
        /// Cause.
        message: String,
    },
    /// The revision names nothing.
    #[error(
        "repository {url}: revision {revision:?} not found (hint: use a branch, tag, commit SHA or HEAD)"
    )]
    Revision {
        /// Repository URL.
        url: String,
        /// The revision asked for.
        revision: String,
    },
    /// A path is not in the tree.
    #[error("repository {url} at {commit}: path {path:?} does not exist")]
    Path {
        /// Repository URL.
        url: String,
        /// Commit.
        commit: String,
        /// The path.
        path: String,
    },
    /// Reading objects failed.
    #[error("repository {url} at {commit}: cannot read objects: {message}")]
    Read {
        /// Repository URL.
        url: String,
        /// Commit.
        commit: String,
        /// Cause.
        message: String,
    },
}

/// One file of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    /// Path relative to the directory that was read (`/`-separated).
    pub path: String,
    /// Content.
    pub data: Vec<u8>,
}

/// Mirrors of remote repositories, fetched at most once per instance per URL
/// unless [`RepoCache::forget_fetches`] is called (the reconciler does that once
/// per pass, so a pass sees one consistent revision per repository).
#[derive(Debug)]
pub struct RepoCache {
    root: PathBuf,
    fetched: Mutex<HashMap<String, ()>>,
}

fn install_tls_provider() {
    // gix's HTTP transport uses reqwest with rustls and no built-in provider:
    // ring is installed process-wide once. An Err means one is already set.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A stable short key for a URL (names the mirror directory).
pub fn url_key(url: &str) -> String {
    let digest = Sha256::digest(url.trim_end_matches('/').as_bytes());
    hex::encode(&digest[..12])
}

/// Normalises what users write for local repositories: a bare path becomes a
/// `file://` URL so gix treats it as one.
pub fn normalize_url(url: &str) -> String {
    if url.contains("://") || url.contains('@') {
        url.to_string()
    } else {
        let p = Path::new(url);
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        };
        format!("file://{}", abs.display())
    }
}

impl RepoCache {
    /// A cache rooted at `<data_dir>/git`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("git"),
            fetched: Mutex::new(HashMap::new()),
        }
    }

    /// Makes the next resolve of every URL fetch again.
    pub fn forget_fetches(&self) {
        self.fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn mirror(&self, url: &str) -> Result<gix::Repository, GitError> {
        let path = self.root.join(url_key(url));
        let err = |message: String| GitError::Mirror {
            url: url.to_string(),
            path: path.clone(),
            message,
        };
        if path.join("HEAD").exists() {
            gix::open(&path).map_err(|e| err(e.to_string()))
        } else {
            fs_err::create_dir_all(&self.root).map_err(|e| err(e.to_string()))?;
            // Initialise in a temporary directory and rename, so a killed
            // process never leaves a half-made mirror behind.
            let tmp = self
                .root
                .join(format!(".init-{}-{}", url_key(url), std::process::id()));
            let _ = fs_err::remove_dir_all(&tmp);
            gix::init_bare(&tmp).map_err(|e| err(e.to_string()))?;
            if let Err(e) = fs_err::rename(&tmp, &path) {
                if !path.join("HEAD").exists() {
                    return Err(err(e.to_string()));
                }
                let _ = fs_err::remove_dir_all(&tmp);
            }
            gix::open(&path).map_err(|e| err(e.to_string()))
        }
    }

    /// Fetches `url` into its mirror (once per instance) and returns the mirror.
    pub fn fetch(&self, url: &str) -> Result<gix::Repository, GitError> {
        let url = normalize_url(url);
        let repo = self.mirror(&url)?;
        let already = self
            .fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&url);
        if already {
            return Ok(repo);
        }
        install_tls_provider();
        let fetch_err = |message: String| GitError::Fetch {
            url: url.clone(),
            message,
        };
        let remote = repo
            .remote_at(url.as_str())
            .map_err(|e| fetch_err(e.to_string()))?
            .with_refspecs(
                [
                    "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*",
                    "+HEAD:refs/slipway/HEAD",
                ],
                gix::remote::Direction::Fetch,
            )
            .map_err(|e| fetch_err(e.to_string()))?
            .with_fetch_tags(gix::remote::fetch::Tags::None);
        let connection = remote
            .connect(gix::remote::Direction::Fetch)
            .map_err(|e| fetch_err(e.to_string()))?;
        let interrupt = AtomicBool::new(false);
        connection
            .prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(|e| fetch_err(e.to_string()))?
            .receive(gix::progress::Discard, &interrupt)
            .map_err(|e| fetch_err(e.to_string()))?;
        self.fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(url, ());
        Ok(repo)
    }

    /// Resolves a revision of `url` to a commit id (hex).
    pub fn resolve(&self, url: &str, revision: &str) -> Result<String, GitError> {
        let repo = self.fetch(url)?;
        let rev = revision.trim();
        let candidates: Vec<String> = if rev.is_empty() || rev == "HEAD" {
            vec!["refs/slipway/HEAD".into()]
        } else {
            vec![
                format!("refs/heads/{rev}"),
                format!("refs/tags/{rev}"),
                rev.to_string(),
            ]
        };
        for spec in &candidates {
            if let Ok(id) = repo.rev_parse_single(spec.as_str())
                && let Ok(commit) = id.object().and_then(|o| o.peel_to_commit())
            {
                return Ok(commit.id.to_string());
            }
        }
        Err(GitError::Revision {
            url: normalize_url(url),
            revision: revision.to_string(),
        })
    }

    fn tree_at<'r>(
        repo: &'r gix::Repository,
        url: &str,
        commit: &str,
        path: &str,
    ) -> Result<Option<gix::Tree<'r>>, GitError> {
        let read = |message: String| GitError::Read {
            url: url.to_string(),
            commit: commit.to_string(),
            message,
        };
        let id = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|e| read(e.to_string()))?;
        let tree = repo
            .find_object(id)
            .map_err(|e| read(e.to_string()))?
            .peel_to_tree()
            .map_err(|e| read(e.to_string()))?;
        let clean = path.trim_matches('/');
        if clean.is_empty() || clean == "." {
            return Ok(Some(tree));
        }
        let Some(entry) = tree
            .lookup_entry_by_path(clean)
            .map_err(|e| read(e.to_string()))?
        else {
            return Ok(None);
        };
        if !entry.mode().is_tree() {
            return Ok(None);
        }
        let obj = entry.object().map_err(|e| read(e.to_string()))?;
        Ok(Some(obj.into_tree()))
    }

    /// Every file under `path` at `commit` (recursive), sorted by path.
    pub fn files(&self, url: &str, commit: &str, path: &str) -> Result<Vec<TreeFile>, GitError> {
        let repo = self.mirror(&normalize_url(url))?;
        let read = |message: String| GitError::Read {
            url: url.to_string(),
            commit: commit.to_string(),
            message,
        };
        let Some(tree) = Self::tree_at(&repo, url, commit, path)? else {
            return Err(GitError::Path {
                url: url.to_string(),
                commit: commit.to_string(),
                path: path.to_string(),
            });
        };
        let mut rec = gix::traverse::tree::Recorder::default();
        tree.traverse()
            .breadthfirst(&mut rec)
            .map_err(|e| read(e.to_string()))?;
        let mut out = Vec::new();
        for e in rec.records {
            if !e.mode.is_blob() {
                continue;
            }
            let obj = repo.find_object(e.oid).map_err(|e| read(e.to_string()))?;
            out.push(TreeFile {
                path: e.filepath.to_string(),
                data: obj.data.clone(),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Every directory path in the repository at `commit` (`a`, `a/b`), sorted.
    pub fn directories(&self, url: &str, commit: &str) -> Result<Vec<String>, GitError> {
        let repo = self.mirror(&normalize_url(url))?;
        let read = |message: String| GitError::Read {
            url: url.to_string(),
            commit: commit.to_string(),
            message,
        };
        let Some(tree) = Self::tree_at(&repo, url, commit, "")? else {
            return Ok(Vec::new());
        };
        let mut rec = gix::traverse::tree::Recorder::default();
        tree.traverse()
            .breadthfirst(&mut rec)
            .map_err(|e| read(e.to_string()))?;
        let mut out: Vec<String> = rec
            .records
            .into_iter()
            .filter(|e| e.mode.is_tree())
            .map(|e| e.filepath.to_string())
            .collect();
        out.sort();
        Ok(out)
    }
}
