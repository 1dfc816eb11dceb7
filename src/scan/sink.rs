//! Where findings go: a [`FindingSink`] receives them in a deterministic order as the scan
//! produces them (batch by batch), whatever the thread count. A sink can stop the scan
//! ([`SinkError::Stop`]) or fail it with an I/O error ([`SinkError::Io`]: a printer whose output
//! closed); the scan then ends with [`Summary::stopped`](super::Summary::stopped) set, or with
//! [`Error::Output`](crate::Error::Output) carrying the sink's error.
//!
//! Callers that would rather pull findings than push them use [`Scan::findings`](super::Scan::findings),
//! an iterator fed by a scan running on its own thread.

use crate::finding::Finding;

/// Why a sink refused a finding.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The caller wants no more findings: the scan stops cleanly (not an error).
    #[error("stopped by the sink")]
    Stop,
    /// Writing the finding failed: the scan stops and returns the error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a sink returns for each call.
pub type SinkResult = std::result::Result<(), SinkError>;

/// Receives findings.
pub trait FindingSink {
    /// A new evidence source or volume starts (`what` describes it).
    fn begin(&mut self, what: &str) -> SinkResult {
        let _ = what;
        Ok(())
    }
    /// One finding. An error stops the scan.
    fn finding(&mut self, finding: Finding) -> SinkResult;
    /// The scan of one evidence source is over (flush buffered output here).
    fn finish(&mut self) -> SinkResult {
        Ok(())
    }
}

impl FindingSink for Vec<Finding> {
    fn finding(&mut self, finding: Finding) -> SinkResult {
        self.push(finding);
        Ok(())
    }
}

impl<S: FindingSink + ?Sized> FindingSink for &mut S {
    fn begin(&mut self, what: &str) -> SinkResult {
        (**self).begin(what)
    }
    fn finding(&mut self, finding: Finding) -> SinkResult {
        (**self).finding(finding)
    }
    fn finish(&mut self) -> SinkResult {
        (**self).finish()
    }
}

impl<S: FindingSink + ?Sized> FindingSink for Box<S> {
    fn begin(&mut self, what: &str) -> SinkResult {
        (**self).begin(what)
    }
    fn finding(&mut self, finding: Finding) -> SinkResult {
        (**self).finding(finding)
    }
    fn finish(&mut self) -> SinkResult {
        (**self).finish()
    }
}

/// A sink that calls a closure for each finding; the closure returns `false` to stop the scan.
pub struct FnSink<F: FnMut(Finding) -> bool>(pub F);

impl<F: FnMut(Finding) -> bool> FindingSink for FnSink<F> {
    fn finding(&mut self, finding: Finding) -> SinkResult {
        if (self.0)(finding) {
            Ok(())
        } else {
            Err(SinkError::Stop)
        }
    }
}

/// A sink that sends findings into a channel (for a consumer on another thread); a closed
/// receiver stops the scan.
impl FindingSink for std::sync::mpsc::SyncSender<Finding> {
    fn finding(&mut self, finding: Finding) -> SinkResult {
        self.send(finding).map_err(|_| SinkError::Stop)
    }
}

/// Like the `SyncSender` sink, unbounded.
impl FindingSink for std::sync::mpsc::Sender<Finding> {
    fn finding(&mut self, finding: Finding) -> SinkResult {
        self.send(finding).map_err(|_| SinkError::Stop)
    }
}
