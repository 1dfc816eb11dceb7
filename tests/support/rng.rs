//! xorshift64*: the deterministic, dependency-free PRNG of the tests that derive damaged or
//! random inputs from fixed seeds. Included by path (`#[path]`) where needed (integration tests
//! and the exchange module's fuzz-style unit test).
#![allow(dead_code)]

/// A xorshift64* generator; the state must not be 0 (use [`Rng::new`] for any seed).
pub struct Rng(pub u64);

impl Rng {
    /// A generator for any seed (0 included).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// An index below `n` (0 when `n` is 0).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    /// Flips `n` random bits inside `range` of `b`.
    pub fn flip_bits(&mut self, b: &mut [u8], range: std::ops::Range<usize>, n: usize) {
        for _ in 0..n {
            let i = range.start + self.index(range.end - range.start);
            b[i] ^= 1 << self.below(8);
        }
    }
}
