//! Typed diagnostics: problems met reading evidence, partition tables, volumes or logs that do
//! not stop the work. Each says what kind of problem it is, where it was seen, and the text
//! shown to users.

use deadbox_evidence::Error;

/// What kind of problem a [`Diagnostic`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// Bytes could not be read or a structure could not be opened at all (I/O error, a volume
    /// that does not open, an unreadable EVTX file or record).
    Unreadable,
    /// A structure is damaged or inconsistent (bad CRC, loop, overlap, malformed log line).
    Corrupt,
    /// Something runs past the end of the evidence (truncated image).
    Truncated,
    /// A bound was hit and the rest was skipped or not reported.
    Limit,
    /// Something valid that deadbox does not read (a second extended partition, a log without
    /// the expected columns).
    Unsupported,
}

/// Where a [`Diagnostic`] was seen; fields that do not apply are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct DiagnosticLocation {
    /// Partition index, as `deadbox info` lists them.
    pub partition: Option<u32>,
    /// Absolute byte offset in the evidence.
    pub offset: Option<u64>,
    /// MFT entry.
    pub mft_entry: Option<u64>,
    /// 1-based line of a text log.
    pub line: Option<u64>,
}

/// A problem that did not stop the work.
///
/// [`Display`](std::fmt::Display) gives the text shown to users (`message`), and it is also
/// what `Serialize` writes: the `diagnostics` arrays of the JSON output are lists of these
/// texts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// What kind of problem it is.
    pub kind: DiagnosticKind,
    /// Where it was seen.
    pub location: DiagnosticLocation,
    /// The text shown to users (it names the place too, e.g. `partition 2: …`, `line 7: …`).
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic of `kind` with no location.
    pub fn new(kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Diagnostic {
            kind,
            location: DiagnosticLocation::default(),
            message: message.into(),
        }
    }

    /// The kind of diagnostic an error becomes.
    pub fn kind_of(e: &Error) -> DiagnosticKind {
        match e {
            Error::Format { .. } => DiagnosticKind::Corrupt,
            Error::OutOfBounds { .. } => DiagnosticKind::Truncated,
            Error::Limit(_) => DiagnosticKind::Limit,
            Error::Unsupported(_) => DiagnosticKind::Unsupported,
            _ => DiagnosticKind::Unreadable,
        }
    }

    /// Sets the partition.
    pub fn at_partition(mut self, partition: Option<u32>) -> Self {
        self.location.partition = partition;
        self
    }

    /// Sets the absolute byte offset in the evidence.
    pub fn at_offset(mut self, offset: Option<u64>) -> Self {
        self.location.offset = offset;
        self
    }

    /// Sets the MFT entry.
    pub fn at_entry(mut self, entry: Option<u64>) -> Self {
        self.location.mft_entry = entry;
        self
    }

    /// Sets the log line.
    pub fn at_line(mut self, line: u64) -> Self {
        self.location.line = Some(line);
        self
    }

    /// True when the text contains `pat`.
    pub fn contains(&self, pat: &str) -> bool {
        self.message.contains(pat)
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl serde::Serialize for Diagnostic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.message)
    }
}

impl PartialEq<&str> for Diagnostic {
    fn eq(&self, other: &&str) -> bool {
        self.message == *other
    }
}
