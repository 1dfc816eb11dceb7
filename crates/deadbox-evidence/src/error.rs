//! Error type of the library. Every variant says where (evidence offset, path, MFT entry)
//! and what was expected, so a diagnostic can be acted on.

use std::path::PathBuf;

/// Result alias used throughout deadbox.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading evidence or running a scan.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The evidence file (or a segment of it) could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// Host path of the file.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// A read went past the end of the evidence or of a region.
    #[error("read of {len} bytes at offset {offset:#x} is past the end ({size:#x} bytes)")]
    OutOfBounds {
        /// Offset of the read.
        offset: u64,
        /// Length of the read.
        len: u64,
        /// Size of what was read from.
        size: u64,
    },
    /// The bytes are not in the format they were expected to be in.
    #[error("{what} at offset {offset:#x}: {reason}")]
    Format {
        /// The structure being parsed (e.g. "MBR", "MFT record 37").
        what: String,
        /// Absolute offset where the problem was seen.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A container or feature that deadbox does not read.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// No NTFS volume (or nothing deadbox can read) was found in the evidence.
    #[error("no NTFS volume found in {0}")]
    NoVolume(String),
    /// A path or entry looked up on a volume does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A configured resource bound was hit (size, depth, count).
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// YARA rules failed to compile.
    #[error("rules: {0}")]
    Rules(String),
    /// A user-supplied list or option is invalid.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Writing results (findings, rows, exported files) failed, e.g. the output closed.
    #[error("output: {0}")]
    Output(#[source] std::io::Error),
}

impl Error {
    /// Shorthand for a [`Error::Format`] error.
    pub fn format(what: impl Into<String>, offset: u64, reason: impl Into<String>) -> Self {
        Error::Format {
            what: what.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// Shorthand for an [`Error::Io`] error.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
