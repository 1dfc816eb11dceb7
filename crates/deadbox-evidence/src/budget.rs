//! One memory budget per run, shared by everything that holds evidence-derived data.
//!
//! Two kinds of use draw on the same counter of bytes:
//! - **Grants** ([`MemoryBudget::acquire`]): short-lived bytes of one job (a stream assembled
//!   in memory for YARA, a log or archive member read whole, a directory index being read).
//!   A worker that holds no grant waits until its bytes fit, which keeps results independent of
//!   timing whenever each job fits the budget on its own. A worker that already holds a grant on
//!   this thread (rayon runs a stolen job on the stack of one waiting for its own spawned work)
//!   never waits, since it could wait on itself: its work is cut instead (`None`), and the
//!   caller says so in a diagnostic.
//! - **Reservations** ([`MemoryBudget::reserve_up_to`], [`MemoryBudget::charge`]): bytes held
//!   for as long as a structure lives (a volume's namespace and its path bytes, the MFT batches
//!   a walk keeps in flight). They never wait; a grant that could only fit once a reservation is
//!   returned is refused rather than left waiting for it.
//!
//! The counter sits under a mutex with a condition variable (not a bare atomic) so that a
//! worker can wait for bytes to be returned.

use std::cell::Cell;
use std::sync::{Arc, Condvar, Mutex};

thread_local! {
    /// Bytes granted to jobs running on this thread.
    static HELD: Cell<u64> = const { Cell::new(0) };
}

/// Default budget of a run: a quarter of the machine's physical memory, at most 4 GiB and at
/// least 256 MiB (4 GiB where the memory size is unknown).
pub fn default_limit() -> u64 {
    const MAX: u64 = 4 << 30;
    const MIN: u64 = 256 << 20;
    physical_memory().map_or(MAX, |m| (m / 4).clamp(MIN, MAX))
}

/// The machine's physical memory in bytes, when the platform says.
fn physical_memory() -> Option<u64> {
    #[cfg(unix)]
    {
        // SAFETY: sysconf reads a system constant; it has no memory-safety preconditions.
        let (pages, size) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        if pages > 0 && size > 0 {
            return (pages as u64).checked_mul(size as u64);
        }
    }
    None
}

#[derive(Debug, Default)]
struct Counts {
    /// Bytes of grants held.
    granted: u64,
    /// Bytes of reservations held.
    reserved: u64,
    /// Most bytes held at once.
    peak: u64,
}

impl Counts {
    fn used(&self) -> u64 {
        self.granted.saturating_add(self.reserved)
    }
    fn note_peak(&mut self) {
        self.peak = self.peak.max(self.used());
    }
}

/// The shared budget (see the module docs). Share it as an `Arc`.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    counts: Mutex<Counts>,
    freed: Condvar,
}

/// Bytes granted by [`MemoryBudget::acquire`]; returned when dropped.
#[derive(Debug)]
pub struct Grant<'a> {
    budget: &'a MemoryBudget,
    bytes: u64,
}

/// Bytes reserved by [`MemoryBudget::reserve_up_to`] or [`MemoryBudget::charge`]; returned
/// when dropped. Owns a handle on the budget, so a long-lived structure can keep it.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        MemoryBudget {
            limit,
            counts: Mutex::new(Counts::default()),
            freed: Condvar::new(),
        }
    }

    /// A budget with no practical limit (`u64::MAX`).
    pub fn unlimited() -> Self {
        Self::new(u64::MAX)
    }

    /// The budget, in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes not held now.
    pub fn available(&self) -> u64 {
        self.limit.saturating_sub(self.counts().used())
    }

    /// Most bytes held at once so far (grants and reservations).
    pub fn peak(&self) -> u64 {
        self.counts().peak
    }

    /// Grants `bytes`, waiting for other workers to return theirs when this thread holds none;
    /// `None` when `bytes` exceeds what reservations leave of the budget, or this thread holds
    /// a grant already and the rest of the budget is too small (the caller cuts the work and
    /// says so).
    pub fn acquire(&self, bytes: u64) -> Option<Grant<'_>> {
        let mut c = self.counts();
        loop {
            if bytes > self.limit.saturating_sub(c.reserved) {
                return None;
            }
            if c.used().saturating_add(bytes) <= self.limit {
                c.granted += bytes;
                c.note_peak();
                HELD.with(|h| h.set(h.get() + bytes));
                return Some(Grant {
                    budget: self,
                    bytes,
                });
            }
            if HELD.with(|h| h.get()) > 0 {
                return None;
            }
            c = self.freed.wait(c).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Reserves at most `max` bytes, as many as are free now (possibly 0), without waiting.
    pub fn reserve_up_to(self: &Arc<Self>, max: u64) -> Reservation {
        let mut c = self.counts();
        let bytes = max.min(self.limit.saturating_sub(c.used()));
        c.reserved += bytes;
        c.note_peak();
        Reservation {
            budget: self.clone(),
            bytes,
        }
    }

    /// Reserves `bytes` whether or not they fit: for memory that is already held and cannot be
    /// given up (it is counted so that everything else sees less room). Returns the reservation
    /// and whether it fit.
    pub fn charge(self: &Arc<Self>, bytes: u64) -> (Reservation, bool) {
        let mut c = self.counts();
        let fit = c.used().saturating_add(bytes) <= self.limit;
        c.reserved = c.reserved.saturating_add(bytes);
        c.note_peak();
        (
            Reservation {
                budget: self.clone(),
                bytes,
            },
            fit,
        )
    }

    fn give_back(&self, granted: u64, reserved: u64) {
        let mut c = self.counts();
        c.granted = c.granted.saturating_sub(granted);
        c.reserved = c.reserved.saturating_sub(reserved);
        drop(c);
        self.freed.notify_all();
    }
}

impl Grant<'_> {
    /// Bytes granted.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Grant<'_> {
    fn drop(&mut self) {
        HELD.with(|h| h.set(h.get().saturating_sub(self.bytes)));
        self.budget.give_back(self.bytes, 0);
    }
}

impl Reservation {
    /// Bytes reserved.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Returns the bytes past `bytes` to the budget (no effect when it holds fewer).
    pub fn shrink_to(&mut self, bytes: u64) {
        if bytes < self.bytes {
            self.budget.give_back(0, self.bytes - bytes);
            self.bytes = bytes;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(0, self.bytes);
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

    /// Reservations take room from grants and never wait; a grant that only a reservation's
    /// return could satisfy is refused, not left waiting forever.
    #[test]
    fn reservations_and_grants_share_the_counter() {
        let budget = Arc::new(MemoryBudget::new(100));
        let mut r = budget.reserve_up_to(70);
        assert_eq!((r.bytes(), budget.available()), (70, 30));
        assert_eq!(budget.reserve_up_to(50).bytes(), 30);
        assert_eq!(budget.available(), 30);
        assert!(budget.acquire(31).is_none());
        let g = budget.acquire(30).unwrap();
        assert_eq!(budget.available(), 0);
        drop(g);
        r.shrink_to(20);
        assert_eq!(budget.available(), 80);
        let (over, fit) = budget.charge(90);
        assert!(!fit);
        assert_eq!(budget.available(), 0);
        assert!(budget.acquire(1).is_none());
        assert_eq!(budget.peak(), 110);
        drop((r, over));
        assert_eq!(budget.available(), 100);
    }

    #[test]
    fn the_default_is_a_fraction_of_memory_within_bounds() {
        let d = default_limit();
        assert!((256 << 20..=4 << 30).contains(&d), "{d}");
        if let Some(m) = physical_memory() {
            assert!(d <= (m / 4).max(256 << 20), "{d} of {m}");
        }
    }
}
