//! Where findings go: a [`FindingSink`] receives them in a deterministic order as the scan
//! produces them (batch by batch), whatever the thread count.

use crate::finding::Finding;

/// Receives findings. Return `false` from [`FindingSink::finding`] to stop the scan cleanly.
pub trait FindingSink {
    /// A new evidence source or volume starts (`what` describes it).
    fn begin(&mut self, what: &str) {
        let _ = what;
    }
    /// One finding. Returning `false` stops the scan.
    fn finding(&mut self, finding: Finding) -> bool;
    /// The scan is over.
    fn finish(&mut self) {}
}

impl FindingSink for Vec<Finding> {
    fn finding(&mut self, finding: Finding) -> bool {
        self.push(finding);
        true
    }
}

impl<S: FindingSink + ?Sized> FindingSink for &mut S {
    fn begin(&mut self, what: &str) {
        (**self).begin(what)
    }
    fn finding(&mut self, finding: Finding) -> bool {
        (**self).finding(finding)
    }
    fn finish(&mut self) {
        (**self).finish()
    }
}

impl<S: FindingSink + ?Sized> FindingSink for Box<S> {
    fn begin(&mut self, what: &str) {
        (**self).begin(what)
    }
    fn finding(&mut self, finding: Finding) -> bool {
        (**self).finding(finding)
    }
    fn finish(&mut self) {
        (**self).finish()
    }
}

/// A sink that calls a closure for each finding.
pub struct FnSink<F: FnMut(Finding) -> bool>(pub F);

impl<F: FnMut(Finding) -> bool> FindingSink for FnSink<F> {
    fn finding(&mut self, finding: Finding) -> bool {
        (self.0)(finding)
    }
}
