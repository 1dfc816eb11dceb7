//! A small LZMA decoder (the "LZMA1" of 7-Zip, as specified in the LZMA SDK's `lzma-specification`),
//! only for the compressed headers of 7z archives (`kEncodedHeader`), which hold the member
//! names. Bounded: the output stops at the size the archive declares (at most the caller's
//! limit) and every iteration writes at least one byte, so the work is linear in the output;
//! input past its end reads as zeros and makes the result an error. Never panics on hostile
//! input (distances are checked against the output written so far).

use crate::{Error, Result};

const PROB_INIT: u16 = 1024;

struct Range<'a> {
    data: &'a [u8],
    pos: usize,
    range: u32,
    code: u32,
    overrun: bool,
}

impl<'a> Range<'a> {
    fn new(data: &'a [u8]) -> Option<Self> {
        let mut r = Range {
            data,
            pos: 1, // the first byte is always 0
            range: 0xFFFF_FFFF,
            code: 0,
            overrun: false,
        };
        if data.first() != Some(&0) {
            return None;
        }
        for _ in 0..4 {
            r.code = (r.code << 8) | u32::from(r.next());
        }
        Some(r)
    }
    fn next(&mut self) -> u8 {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => {
                self.overrun = true;
                0
            }
        }
    }
    fn normalize(&mut self) {
        if self.range < 1 << 24 {
            self.range <<= 8;
            self.code = (self.code << 8) | u32::from(self.next());
        }
    }
    fn bit(&mut self, prob: &mut u16) -> u32 {
        let bound = (self.range >> 11).wrapping_mul(u32::from(*prob));
        let bit = if self.code < bound {
            self.range = bound;
            *prob += (2048 - *prob) >> 5;
            0
        } else {
            self.range -= bound;
            self.code -= bound;
            *prob -= *prob >> 5;
            1
        };
        self.normalize();
        bit
    }
    fn direct(&mut self, n: u32) -> u32 {
        let mut res = 0u32;
        for _ in 0..n {
            self.range >>= 1;
            let bit = if self.code >= self.range {
                self.code -= self.range;
                1
            } else {
                0
            };
            res = (res << 1) | bit;
            self.normalize();
        }
        res
    }
    fn tree(&mut self, probs: &mut [u16], bits: u32) -> u32 {
        let mut m = 1usize;
        for _ in 0..bits {
            m = (m << 1) + self.bit(&mut probs[m]) as usize;
        }
        (m - (1 << bits)) as u32
    }
    fn tree_reverse(&mut self, probs: &mut [u16], bits: u32) -> u32 {
        let mut m = 1usize;
        let mut sym = 0u32;
        for i in 0..bits {
            let bit = self.bit(&mut probs[m]);
            m = (m << 1) + bit as usize;
            sym |= bit << i;
        }
        sym
    }
}

struct LenDecoder {
    choice: u16,
    choice2: u16,
    low: [[u16; 8]; 16],
    mid: [[u16; 8]; 16],
    high: [u16; 256],
}

impl LenDecoder {
    fn new() -> Self {
        LenDecoder {
            choice: PROB_INIT,
            choice2: PROB_INIT,
            low: [[PROB_INIT; 8]; 16],
            mid: [[PROB_INIT; 8]; 16],
            high: [PROB_INIT; 256],
        }
    }
    fn decode(&mut self, rc: &mut Range<'_>, pos_state: usize) -> u32 {
        if rc.bit(&mut self.choice) == 0 {
            return rc.tree(&mut self.low[pos_state], 3);
        }
        if rc.bit(&mut self.choice2) == 0 {
            return 8 + rc.tree(&mut self.mid[pos_state], 3);
        }
        16 + rc.tree(&mut self.high, 8)
    }
}

fn fail(reason: &str) -> Error {
    Error::format("lzma", 0, reason.to_string())
}

/// Decodes LZMA `data` with the 5 property bytes of a 7z coder (`lc/lp/pb`, dictionary size)
/// into exactly `size` bytes (an end marker before is accepted). `size` must be at most `max`.
pub fn decode(props: &[u8], data: &[u8], size: u64, max: u64) -> Result<Vec<u8>> {
    if size > max {
        return Err(Error::Limit(format!(
            "lzma: {size} bytes to decode (at most {max})"
        )));
    }
    let d = *props.first().ok_or_else(|| fail("no properties"))?;
    if d >= 9 * 5 * 5 {
        return Err(fail("bad properties"));
    }
    let (lc, lp, pb) = (u32::from(d % 9), u32::from(d / 9 % 5), u32::from(d / 45));
    let size = size as usize;
    let mut out: Vec<u8> = Vec::with_capacity(size.min(1 << 20));
    let mut rc = Range::new(data).ok_or_else(|| fail("bad range coder start"))?;
    let mut literal = vec![PROB_INIT; 0x300usize << (lc + lp)];
    let mut is_match = [PROB_INIT; 12 << 4];
    let mut is_rep = [PROB_INIT; 12];
    let mut is_rep_g0 = [PROB_INIT; 12];
    let mut is_rep_g1 = [PROB_INIT; 12];
    let mut is_rep_g2 = [PROB_INIT; 12];
    let mut is_rep0_long = [PROB_INIT; 12 << 4];
    let mut pos_slot = [[PROB_INIT; 64]; 4];
    let mut pos_decoders = [PROB_INIT; 115];
    let mut align = [PROB_INIT; 16];
    let mut len_decoder = LenDecoder::new();
    let mut rep_len_decoder = LenDecoder::new();
    let (mut rep0, mut rep1, mut rep2, mut rep3) = (0usize, 0usize, 0usize, 0usize);
    let mut state = 0usize;
    let pb_mask = (1usize << pb) - 1;
    let lp_mask = (1usize << lp) - 1;
    while out.len() < size {
        if rc.overrun {
            return Err(fail("input ends before the output"));
        }
        let pos_state = out.len() & pb_mask;
        if rc.bit(&mut is_match[(state << 4) + pos_state]) == 0 {
            let prev = out.last().copied().unwrap_or(0);
            let lit_state = ((out.len() & lp_mask) << lc) + (usize::from(prev) >> (8 - lc));
            let probs = &mut literal[0x300 * lit_state..0x300 * (lit_state + 1)];
            let mut symbol = 1usize;
            if state >= 7 {
                let mut match_byte = usize::from(out[out.len() - rep0 - 1]);
                while symbol < 0x100 {
                    let match_bit = (match_byte >> 7) & 1;
                    match_byte <<= 1;
                    let bit = rc.bit(&mut probs[((1 + match_bit) << 8) + symbol]) as usize;
                    symbol = (symbol << 1) | bit;
                    if match_bit != bit {
                        break;
                    }
                }
            }
            while symbol < 0x100 {
                symbol = (symbol << 1) | rc.bit(&mut probs[symbol]) as usize;
            }
            out.push(symbol as u8);
            state = if state < 4 {
                0
            } else if state < 10 {
                state - 3
            } else {
                state - 6
            };
            continue;
        }
        let len;
        if rc.bit(&mut is_rep[state]) != 0 {
            if out.is_empty() {
                return Err(fail("repeat before any output"));
            }
            if rc.bit(&mut is_rep_g0[state]) == 0 {
                if rc.bit(&mut is_rep0_long[(state << 4) + pos_state]) == 0 {
                    state = if state < 7 { 9 } else { 11 };
                    let b = out[out.len() - rep0 - 1];
                    out.push(b);
                    continue;
                }
            } else {
                let dist;
                if rc.bit(&mut is_rep_g1[state]) == 0 {
                    dist = rep1;
                } else {
                    if rc.bit(&mut is_rep_g2[state]) == 0 {
                        dist = rep2;
                    } else {
                        dist = rep3;
                        rep3 = rep2;
                    }
                    rep2 = rep1;
                }
                rep1 = rep0;
                rep0 = dist;
            }
            len = rep_len_decoder.decode(&mut rc, pos_state);
            state = if state < 7 { 8 } else { 11 };
        } else {
            rep3 = rep2;
            rep2 = rep1;
            rep1 = rep0;
            len = len_decoder.decode(&mut rc, pos_state);
            state = if state < 7 { 7 } else { 10 };
            let len_state = (len as usize).min(3);
            let slot = rc.tree(&mut pos_slot[len_state], 6);
            let dist = if slot < 4 {
                slot
            } else {
                let direct = (slot >> 1) - 1;
                let mut dist = (2 | (slot & 1)) << direct;
                if slot < 14 {
                    let base = (dist - slot) as usize;
                    dist += rc.tree_reverse(&mut pos_decoders[base..], direct);
                } else {
                    dist += rc.direct(direct - 4) << 4;
                    dist += rc.tree_reverse(&mut align, 4);
                }
                dist
            };
            if dist == 0xFFFF_FFFF {
                break; // end marker
            }
            rep0 = dist as usize;
        }
        if rep0 >= out.len() {
            return Err(fail("distance past the start of the output"));
        }
        let n = (len as usize + 2).min(size - out.len());
        for _ in 0..n {
            let b = out[out.len() - rep0 - 1];
            out.push(b);
        }
    }
    if rc.overrun {
        return Err(fail("input ends before the output"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hostile input: random streams under every property byte decode to at most the size
    /// asked, or fail; never panic. Sizes past the limit are refused before any work.
    #[test]
    fn hostile_streams() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for props in 0..225u8 {
            for len in [0usize, 1, 5, 64, 700] {
                let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if let Some(b) = data.first_mut() {
                    *b = 0;
                }
                if let Ok(out) = decode(&[props, 0, 0, 1, 0], &data, 3000, 1 << 20) {
                    assert!(out.len() <= 3000);
                }
            }
        }
        assert!(decode(&[93], &[0; 5], 2 << 20, 1 << 20).is_err());
        assert!(decode(&[225], &[0; 16], 10, 100).is_err());
        assert!(decode(&[], &[0; 16], 10, 100).is_err());
        assert!(decode(&[93], &[1; 16], 10, 100).is_err());
        assert_eq!(decode(&[93], &[0; 5], 0, 100).unwrap(), b"");
    }
}
