//! A tiny EVTX writer for tests: one file header, one 64 KiB chunk, records whose BinXML is
//! plain elements (no templates: every name written inline where it is used, every value a
//! string), header and data checksums set. Enough for the `evtx` crate to read the records back
//! as Windows would render them (`<Event><System>…</System><EventData><Data Name="…">`), so a
//! log no sample exists of (Security 4688, 4720, 4732, 4698) can go through the real parser.

#![allow(dead_code)]

/// One event: provider, event id, time (RFC 3339), record id, computer, named data.
pub struct Event<'a> {
    pub provider: &'a str,
    pub event_id: u32,
    pub time: &'a str,
    pub record_id: u64,
    pub computer: &'a str,
    pub data: Vec<(&'a str, String)>,
}

const CHUNK: usize = 65536;

fn u16le(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn u32le(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// BinXML of one record; `base` is the chunk offset where it starts (names are referenced by
/// chunk offset, and an offset equal to the reader's position means "defined here").
struct Bx {
    out: Vec<u8>,
    base: usize,
}

impl Bx {
    fn pos(&self) -> u32 {
        (self.base + self.out.len()) as u32
    }

    /// A name reference with the name defined inline right after it.
    fn name(&mut self, name: &str) {
        let at = self.pos() + 4;
        u32le(&mut self.out, at);
        u32le(&mut self.out, 0); // next name in the hash bucket
        let units: Vec<u16> = name.encode_utf16().collect();
        let hash = units.iter().fold(0u32, |h, &c| {
            h.wrapping_mul(65599).wrapping_add(u32::from(c))
        });
        u16le(&mut self.out, hash as u16);
        u16le(&mut self.out, units.len() as u16);
        for u in units {
            u16le(&mut self.out, u);
        }
        u16le(&mut self.out, 0);
    }

    /// A string value token (`0x05`, type `0x01`).
    fn text(&mut self, s: &str) {
        let units: Vec<u16> = s.encode_utf16().collect();
        self.out.push(0x05);
        self.out.push(0x01);
        u16le(&mut self.out, units.len() as u16);
        for u in units {
            u16le(&mut self.out, u);
        }
    }

    /// `<name a="v"…>`: open start element (with attributes: `0x41`), data size (unused by
    /// readers: 0), the name, the attribute list, then close start element.
    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push(if attrs.is_empty() { 0x01 } else { 0x41 });
        u32le(&mut self.out, 0);
        self.name(name);
        if !attrs.is_empty() {
            u32le(&mut self.out, 0);
            for (i, (k, v)) in attrs.iter().enumerate() {
                self.out.push(if i + 1 < attrs.len() { 0x46 } else { 0x06 });
                self.name(k);
                self.text(v);
            }
        }
        self.out.push(0x02);
    }

    fn close(&mut self) {
        self.out.push(0x04);
    }

    /// `<name a="v"/>`.
    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.open(name, attrs);
        // Replace the close-start token with close-empty.
        self.out.pop();
        self.out.push(0x03);
    }

    /// `<name>text</name>`.
    fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.open(name, attrs);
        self.text(text);
        self.close();
    }
}

fn event_binxml(e: &Event<'_>, base: usize) -> Vec<u8> {
    let mut b = Bx {
        out: vec![0x0F, 0x01, 0x01, 0x00],
        base,
    };
    b.open(
        "Event",
        &[(
            "xmlns",
            "http://schemas.microsoft.com/win/2004/08/events/event",
        )],
    );
    b.open("System", &[]);
    b.empty("Provider", &[("Name", e.provider)]);
    b.leaf("EventID", &[], &e.event_id.to_string());
    b.empty("TimeCreated", &[("SystemTime", e.time)]);
    b.leaf("EventRecordID", &[], &e.record_id.to_string());
    b.leaf("Channel", &[], "Security");
    b.leaf("Computer", &[], e.computer);
    b.close();
    b.open("EventData", &[]);
    for (k, v) in &e.data {
        b.leaf("Data", &[("Name", k)], v);
    }
    b.close();
    b.close();
    b.out.push(0x00);
    b.out
}

/// FILETIME of an RFC 3339 time `YYYY-MM-DDTHH:MM:SS…` (seconds only).
fn filetime(t: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (hh, mm, ss) = (n(11..13), n(14..16), n(17..19));
    // Days from civil (Howard Hinnant), from 1970, then to 1601.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468 + 134_774;
    ((days * 86_400 + hh * 3600 + mm * 60 + ss) as u64) * 10_000_000
}

/// One chunk holding `events`, whose records are numbered from `first`.
fn chunk(events: &[Event<'_>], first: u64) -> Vec<u8> {
    let mut chunk = vec![0u8; 512];
    let mut last_offset = 512u32;
    for (i, e) in events.iter().enumerate() {
        let start = chunk.len();
        last_offset = start as u32;
        let bx = event_binxml(e, start + 24);
        let size = (24 + bx.len() + 4) as u32;
        u32le(&mut chunk, 0x0000_2a2a);
        u32le(&mut chunk, size);
        chunk.extend_from_slice(&(first + i as u64).to_le_bytes());
        chunk.extend_from_slice(&filetime(e.time).to_le_bytes());
        chunk.extend_from_slice(&bx);
        u32le(&mut chunk, size);
    }
    assert!(chunk.len() <= CHUNK, "too many events for one chunk");
    let free = chunk.len() as u32;
    let last = first + events.len() as u64 - 1;
    chunk.resize(CHUNK, 0);
    chunk[..8].copy_from_slice(b"ElfChnk\0");
    chunk[8..16].copy_from_slice(&first.to_le_bytes());
    chunk[16..24].copy_from_slice(&last.to_le_bytes());
    chunk[24..32].copy_from_slice(&first.to_le_bytes());
    chunk[32..40].copy_from_slice(&last.to_le_bytes());
    chunk[40..44].copy_from_slice(&128u32.to_le_bytes());
    chunk[44..48].copy_from_slice(&last_offset.to_le_bytes());
    chunk[48..52].copy_from_slice(&free.to_le_bytes());
    let data_crc = crc32fast::hash(&chunk[512..free as usize]);
    chunk[52..56].copy_from_slice(&data_crc.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&chunk[..120]);
    h.update(&chunk[128..512]);
    chunk[124..128].copy_from_slice(&h.finalize().to_le_bytes());
    chunk
}

/// The bytes of an EVTX file holding `events`, `per_chunk` to a chunk (records numbered 1, 2,
/// …).
pub fn evtx_chunked(events: &[Event<'_>], per_chunk: usize) -> Vec<u8> {
    let chunks: Vec<Vec<u8>> = events
        .chunks(per_chunk.max(1))
        .enumerate()
        .map(|(i, c)| chunk(c, (i * per_chunk.max(1)) as u64 + 1))
        .collect();
    let n = events.len() as u64;
    let mut file = vec![0u8; 4096];
    file[..8].copy_from_slice(b"ElfFile\0");
    file[16..24].copy_from_slice(&(chunks.len() as u64).saturating_sub(1).to_le_bytes());
    file[24..32].copy_from_slice(&(n + 1).to_le_bytes());
    file[32..36].copy_from_slice(&128u32.to_le_bytes());
    file[36..38].copy_from_slice(&1u16.to_le_bytes());
    file[38..40].copy_from_slice(&3u16.to_le_bytes());
    file[40..42].copy_from_slice(&4096u16.to_le_bytes());
    file[42..44].copy_from_slice(&(chunks.len() as u16).to_le_bytes());
    let crc = crc32fast::hash(&file[..120]);
    file[124..128].copy_from_slice(&crc.to_le_bytes());
    for c in chunks {
        file.extend_from_slice(&c);
    }
    file
}

/// The bytes of an EVTX file holding `events` in one chunk (records numbered 1, 2, …).
pub fn evtx(events: &[Event<'_>]) -> Vec<u8> {
    evtx_chunked(events, events.len().max(1))
}
