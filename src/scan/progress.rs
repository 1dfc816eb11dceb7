//! Progress reporting: the scan tells a [`Progress`] what it is doing; the library draws
//! nothing itself (the `deadbox` binary draws a bar on a terminal with `indicatif`).

/// Receives progress from a running scan, from several threads at once.
pub trait Progress: Send + Sync {
    /// A phase starts: `total` units of `unit` (`"records"` for a volume's MFT, `"files"` for
    /// loose files) in `what` (the evidence, and the partition).
    fn start(&self, what: &str, total: u64, unit: &str);
    /// `units` more units are done, and `bytes` more bytes were read and scanned.
    fn advance(&self, units: u64, bytes: u64);
    /// The phase is over.
    fn finish(&self);
}

/// A shared [`Progress`] handle, as the builder keeps it.
#[derive(Clone)]
pub(crate) struct Handle(pub(crate) std::sync::Arc<dyn Progress>);

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}
