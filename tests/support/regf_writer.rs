//! A tiny registry hive (regf) writer for tests: one or more 4 KiB-aligned hive bins, allocated
//! cells, a valid base block checksum, so that independent readers (hivex) accept it.

#![allow(dead_code)]

/// Key and value builder over one growing hive bin area.
pub struct RegfWriter {
    bins: Vec<u8>,
}

pub const REG_SZ: u32 = 1;
pub const REG_BINARY: u32 = 3;
pub const REG_DWORD: u32 = 4;

/// How a key's subkeys are listed.
#[derive(Clone, Copy)]
pub enum ListKind {
    Lf,
    Lh,
    Li,
    /// An `ri` holding one `li` and one `lf` (children split in two halves).
    Ri,
}

fn lh_hash(name: &str) -> u32 {
    name.to_uppercase()
        .chars()
        .fold(0u32, |h, c| h.wrapping_mul(37).wrapping_add(c as u32))
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

impl Default for RegfWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl RegfWriter {
    pub fn new() -> Self {
        // hbin header, filled in by `finish`.
        RegfWriter { bins: vec![0; 32] }
    }

    /// Allocates a cell holding `data`; returns its offset (relative to the first bin).
    pub fn alloc(&mut self, data: &[u8]) -> u32 {
        let off = self.bins.len() as u32;
        let size = (4 + data.len()).div_ceil(8) * 8;
        self.bins.extend_from_slice(&(-(size as i32)).to_le_bytes());
        self.bins.extend_from_slice(data);
        self.bins.resize(off as usize + size, 0);
        off
    }

    fn patch_u32(&mut self, cell: u32, field: usize, v: u32) {
        let at = cell as usize + 4 + field;
        self.bins[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// A value: compressed (ASCII) or UTF-16 name; data inline when at most 4 bytes, in a
    /// big-data `db` chain when over 16344 bytes, else in its own cell.
    pub fn value(&mut self, name: &str, vtype: u32, data: &[u8], compressed_name: bool) -> u32 {
        let name_bytes = if compressed_name {
            name.as_bytes().to_vec()
        } else {
            utf16(name)
        };
        let (size, off) = if data.len() <= 4 {
            let mut inline = [0u8; 4];
            inline[..data.len()].copy_from_slice(data);
            (0x8000_0000 | data.len() as u32, u32::from_le_bytes(inline))
        } else if data.len() > 16344 {
            let segs: Vec<u32> = data.chunks(16344).map(|c| self.alloc(c)).collect();
            let list: Vec<u8> = segs.iter().flat_map(|s| s.to_le_bytes()).collect();
            let list_off = self.alloc(&list);
            let mut db = b"db".to_vec();
            db.extend_from_slice(&(segs.len() as u16).to_le_bytes());
            db.extend_from_slice(&list_off.to_le_bytes());
            (data.len() as u32, self.alloc(&db))
        } else {
            (data.len() as u32, self.alloc(data))
        };
        let mut vk = b"vk".to_vec();
        vk.extend_from_slice(&(name_bytes.len() as u16).to_le_bytes());
        vk.extend_from_slice(&size.to_le_bytes());
        vk.extend_from_slice(&off.to_le_bytes());
        vk.extend_from_slice(&vtype.to_le_bytes());
        vk.extend_from_slice(&u16::from(compressed_name).to_le_bytes());
        vk.extend_from_slice(&0u16.to_le_bytes());
        vk.extend_from_slice(&name_bytes);
        self.alloc(&vk)
    }

    /// A key with the given children (key cell offsets with their names) and values.
    pub fn key(
        &mut self,
        name: &str,
        compressed_name: bool,
        children: &[(u32, &str)],
        list: ListKind,
        values: &[u32],
        root: bool,
    ) -> u32 {
        let list_off = if children.is_empty() {
            u32::MAX
        } else {
            let make = |w: &mut Self, kind: ListKind, kids: &[(u32, &str)]| {
                let (sig, wide): (&[u8], bool) = match kind {
                    ListKind::Lf => (b"lf", true),
                    ListKind::Lh => (b"lh", true),
                    _ => (b"li", false),
                };
                let mut l = sig.to_vec();
                l.extend_from_slice(&(kids.len() as u16).to_le_bytes());
                for (off, n) in kids {
                    l.extend_from_slice(&off.to_le_bytes());
                    if wide {
                        let hint = match kind {
                            ListKind::Lh => lh_hash(n),
                            _ => {
                                let mut h = [0u8; 4];
                                for (i, b) in n.bytes().take(4).enumerate() {
                                    h[i] = b;
                                }
                                u32::from_le_bytes(h)
                            }
                        };
                        l.extend_from_slice(&hint.to_le_bytes());
                    }
                }
                w.alloc(&l)
            };
            match list {
                ListKind::Ri => {
                    let mid = children.len() / 2;
                    let a = make(self, ListKind::Li, &children[..mid]);
                    let b = make(self, ListKind::Lf, &children[mid..]);
                    let mut ri = b"ri".to_vec();
                    ri.extend_from_slice(&2u16.to_le_bytes());
                    ri.extend_from_slice(&a.to_le_bytes());
                    ri.extend_from_slice(&b.to_le_bytes());
                    self.alloc(&ri)
                }
                k => make(self, k, children),
            }
        };
        let values_off = if values.is_empty() {
            u32::MAX
        } else {
            let v: Vec<u8> = values.iter().flat_map(|o| o.to_le_bytes()).collect();
            self.alloc(&v)
        };
        let name_bytes = if compressed_name {
            name.as_bytes().to_vec()
        } else {
            utf16(name)
        };
        let mut nk = vec![0u8; 76];
        nk[0..2].copy_from_slice(b"nk");
        let flags: u16 = if compressed_name { 0x20 } else { 0 } | if root { 0x2C } else { 0 };
        nk[2..4].copy_from_slice(&flags.to_le_bytes());
        nk[4..12].copy_from_slice(&132_592_214_381_234_567u64.to_le_bytes());
        nk[20..24].copy_from_slice(&(children.len() as u32).to_le_bytes());
        nk[28..32].copy_from_slice(&list_off.to_le_bytes());
        nk[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        nk[36..40].copy_from_slice(&(values.len() as u32).to_le_bytes());
        nk[40..44].copy_from_slice(&values_off.to_le_bytes());
        nk[44..48].copy_from_slice(&u32::MAX.to_le_bytes()); // no security cell
        nk[48..52].copy_from_slice(&u32::MAX.to_le_bytes()); // no class name
        nk[72..74].copy_from_slice(&(name_bytes.len() as u16).to_le_bytes());
        nk.extend_from_slice(&name_bytes);
        let off = self.alloc(&nk);
        for (child, _) in children {
            self.patch_u32(*child, 16, off); // parent
        }
        off
    }

    /// The whole hive: base block + bins, padded with one free cell to a 4 KiB multiple.
    pub fn finish(mut self, root: u32) -> Vec<u8> {
        let mut total = self.bins.len().div_ceil(4096) * 4096;
        if total - self.bins.len() < 8 && total != self.bins.len() {
            total += 4096;
        }
        let free = total - self.bins.len();
        if free > 0 {
            self.bins.extend_from_slice(&(free as i32).to_le_bytes());
            self.bins.resize(total, 0);
        }
        self.bins[0..4].copy_from_slice(b"hbin");
        self.bins[4..8].copy_from_slice(&0u32.to_le_bytes());
        self.bins[8..12].copy_from_slice(&(total as u32).to_le_bytes());
        let mut base = vec![0u8; 4096];
        base[0..4].copy_from_slice(b"regf");
        base[4..8].copy_from_slice(&1u32.to_le_bytes()); // sequence 1
        base[8..12].copy_from_slice(&1u32.to_le_bytes()); // sequence 2
        base[0x14..0x18].copy_from_slice(&1u32.to_le_bytes()); // major
        base[0x18..0x1C].copy_from_slice(&5u32.to_le_bytes()); // minor
        base[0x20..0x24].copy_from_slice(&1u32.to_le_bytes()); // format: direct memory load
        base[0x24..0x28].copy_from_slice(&root.to_le_bytes());
        base[0x28..0x2C].copy_from_slice(&(total as u32).to_le_bytes());
        base[0x2C..0x30].copy_from_slice(&1u32.to_le_bytes()); // clustering factor
        let sum = base[..0x1FC].chunks_exact(4).fold(0u32, |s, c| {
            s ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]])
        });
        base[0x1FC..0x200].copy_from_slice(&sum.to_le_bytes());
        base.extend_from_slice(&self.bins);
        base
    }
}

/// The SOFTWARE-like test hive used by the tests: `Microsoft\ExchangeServer\v15\Setup` with
/// `MsiInstallPath` (plain cell), a DWORD (inline) and a 20,000-byte binary (big data),
/// `v14\Setup` with a UTF-16 key name and value name, under lh/ri/li/lf lists.
pub fn exchange_software_hive(v15_path: &str, v14_path: &str) -> Vec<u8> {
    let mut w = RegfWriter::new();
    let sz = |s: &str| {
        let mut v = utf16(s);
        v.extend_from_slice(&[0, 0]);
        v
    };
    let p15 = sz(v15_path);
    let p14 = sz(v14_path);
    let v15_vals = [
        w.value("MsiProductMajor", REG_DWORD, &15u32.to_le_bytes(), true),
        w.value("Big", REG_BINARY, &vec![0x5A; 20_000], true),
        w.value("MsiInstallPath", REG_SZ, &p15, true),
    ];
    let setup15 = w.key("Setup", true, &[], ListKind::Lf, &v15_vals, false);
    let v15 = w.key("v15", true, &[(setup15, "Setup")], ListKind::Li, &[], false);
    let v14_vals = [w.value("MsiInstallPath", REG_SZ, &p14, false)];
    let setup14 = w.key("Setup", false, &[], ListKind::Lf, &v14_vals, false);
    let v14 = w.key(
        "V14",
        false,
        &[(setup14, "Setup")],
        ListKind::Lf,
        &[],
        false,
    );
    let exch = w.key(
        "ExchangeServer",
        true,
        &[(v14, "V14"), (v15, "v15")],
        ListKind::Ri,
        &[],
        false,
    );
    let other = w.key("Windows", true, &[], ListKind::Lf, &[], false);
    let ms = w.key(
        "Microsoft",
        true,
        &[(exch, "ExchangeServer"), (other, "Windows")],
        ListKind::Lh,
        &[],
        false,
    );
    let classes = w.key("Classes", true, &[], ListKind::Lf, &[], false);
    let root = w.key(
        "ROOT",
        true,
        &[(classes, "Classes"), (ms, "Microsoft")],
        ListKind::Lf,
        &[],
        true,
    );
    w.finish(root)
}
