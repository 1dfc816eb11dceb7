//! One in-memory budget per scan (`max_in_memory`), shared by every worker: the bytes of
//! streams assembled in memory for YARA (fragmented, compressed or resident NTFS streams,
//! loose files of a folder) and of logs read whole by the assessment. Before, each worker
//! could hold `max_in_memory` at once, so the limit multiplied by the thread count (8 workers ×
//! 1 GiB).
//!
//! A counter of bytes granted, under a mutex with a condition variable (not a bare atomic, so
//! that a worker can wait for bytes to be returned): a worker that holds no grant waits until
//! its stream fits, which keeps results independent of timing whenever each stream fits the
//! budget on its own. A worker that already holds a grant on this thread (rayon runs a stolen
//! job on the stack of one that is waiting for its own spawned work) never waits, since it
//! could wait on itself: its work is cut instead ([`MemoryBudget::acquire`] gives `None`), and
//! the caller says so in a diagnostic.

use std::cell::Cell;
use std::sync::{Condvar, Mutex};

thread_local! {
    /// Bytes granted to jobs running on this thread.
    static HELD: Cell<u64> = const { Cell::new(0) };
}

/// The shared budget (see the module docs).
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    limit: u64,
    used: Mutex<u64>,
    freed: Condvar,
    /// Most bytes granted at once (for the tests and the documentation of the bound).
    peak: Mutex<u64>,
}

/// Bytes granted; returned when dropped.
#[derive(Debug)]
pub(crate) struct Grant<'a> {
    budget: &'a MemoryBudget,
    bytes: u64,
}

impl MemoryBudget {
    pub(crate) fn new(limit: u64) -> Self {
        MemoryBudget {
            limit,
            used: Mutex::new(0),
            freed: Condvar::new(),
            peak: Mutex::new(0),
        }
    }

    /// The budget, in bytes.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// Grants `bytes`, waiting for other workers to return theirs when this thread holds none;
    /// `None` when `bytes` exceeds the whole budget or this thread holds a grant already and the
    /// rest of the budget is too small (the caller cuts the work and says so).
    pub(crate) fn acquire(&self, bytes: u64) -> Option<Grant<'_>> {
        if bytes > self.limit {
            return None;
        }
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if *used + bytes <= self.limit {
                *used += bytes;
                let mut peak = self.peak.lock().unwrap_or_else(|e| e.into_inner());
                *peak = (*peak).max(*used);
                HELD.with(|h| h.set(h.get() + bytes));
                return Some(Grant {
                    budget: self,
                    bytes,
                });
            }
            if HELD.with(|h| h.get()) > 0 {
                return None;
            }
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Most bytes granted at once so far.
    #[cfg(test)]
    pub(crate) fn peak(&self) -> u64 {
        *self.peak.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Grant<'_> {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.bytes;
        HELD.with(|h| h.set(h.get().saturating_sub(self.bytes)));
        drop(used);
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    /// 64 jobs of 40 MiB on 8 threads against a 100 MiB budget: never more than 100 MiB
    /// granted at once (per-worker limits allowed 8 × 40 MiB = 320 MiB), every job granted
    /// (waiting, not cut), and a job that asks for more than the whole budget refused.
    #[test]
    fn one_budget_for_all_workers() {
        let budget = MemoryBudget::new(100 << 20);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(8)
            .build()
            .unwrap();
        let granted: usize = pool.install(|| {
            (0..64)
                .into_par_iter()
                .map(|_| {
                    let g = budget.acquire(40 << 20);
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    usize::from(g.is_some())
                })
                .sum()
        });
        assert_eq!(granted, 64);
        assert!(budget.peak() <= 100 << 20, "{}", budget.peak());
        assert!(budget.peak() >= 80 << 20, "{}", budget.peak());
        assert!(budget.acquire(101 << 20).is_none());
        // Nested on one thread: the second cannot wait on the first.
        let a = budget.acquire(60 << 20).unwrap();
        assert!(budget.acquire(60 << 20).is_none());
        drop(a);
        assert!(budget.acquire(60 << 20).is_some());
    }
}
