//! A minimal .NET assembly written by hand for tests (no C# compiler here): a PE32 DLL with one
//! section holding the CLI header and the metadata root (`BSJB`) with its five streams
//! (`#~`, `#Strings`, `#US`, `#GUID`, `#Blob`). The `#~` tables hold a Module, TypeRefs (to the
//! first assembly reference), TypeDefs without fields or methods, the Assembly and the
//! AssemblyRefs, which is what YARA-X's `dotnet` module reads for `is_dotnet`, `classes`,
//! `assembly` and `assembly_refs`; `user_strings` come from `#US`. Method bodies and
//! MemberRefs are left out: member names a rule looks for (`Start`, `get_Request`) are put in
//! `#Strings`, where a compiler puts them too.
#![allow(dead_code)]

/// What the assembly holds.
#[derive(Default)]
pub struct Spec<'a> {
    /// The assembly's name (`App_Web_x.aspx.cdcab7d2.abcd1234`).
    pub name: &'a str,
    /// Referenced assemblies (`System.Web`, `System`).
    pub refs: &'a [&'a str],
    /// Types referenced, `(namespace, name)`, resolved in the first reference.
    pub type_refs: &'a [(&'a str, &'a str)],
    /// Types defined, `(namespace, name)`.
    pub types: &'a [(&'a str, &'a str)],
    /// More names for `#Strings` (members called: `Start`, `get_Request`).
    pub names: &'a [&'a str],
    /// User strings (`#US`, UTF-16).
    pub user_strings: &'a [&'a str],
}

fn u16le(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_le_bytes());
}
fn u32le(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}
fn pad4(b: &mut Vec<u8>) {
    while b.len() % 4 != 0 {
        b.push(0);
    }
}

/// The bytes of a DLL for `spec`.
pub fn assembly(spec: &Spec<'_>) -> Vec<u8> {
    // #Strings: index of each name.
    let mut strings = vec![0u8];
    let mut index = std::collections::HashMap::new();
    let mut add = |s: &str, strings: &mut Vec<u8>| -> u16 {
        if s.is_empty() {
            return 0;
        }
        *index.entry(s.to_string()).or_insert_with(|| {
            let at = strings.len() as u16;
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            at
        })
    };
    let module = add(&format!("{}.dll", spec.name), &mut strings);
    let name = add(spec.name, &mut strings);
    let refs: Vec<u16> = spec.refs.iter().map(|r| add(r, &mut strings)).collect();
    let trefs: Vec<(u16, u16)> = spec
        .type_refs
        .iter()
        .map(|(ns, n)| (add(ns, &mut strings), add(n, &mut strings)))
        .collect();
    let tdefs: Vec<(u16, u16)> = spec
        .types
        .iter()
        .map(|(ns, n)| (add(ns, &mut strings), add(n, &mut strings)))
        .collect();
    for n in spec.names {
        add(n, &mut strings);
    }
    pad4(&mut strings);

    // #US: a 0 byte, then length-prefixed UTF-16 with a final flag byte.
    let mut us = vec![0u8];
    for s in spec.user_strings {
        let units: Vec<u16> = s.encode_utf16().collect();
        let len = units.len() * 2 + 1;
        assert!(len < 0x80, "short user strings only");
        us.push(len as u8);
        for u in units {
            u16le(&mut us, u);
        }
        us.push(0);
    }
    pad4(&mut us);
    let guid = vec![0x11u8; 16];
    let blob = vec![0u8; 4];

    // #~: Module 0x00, TypeRef 0x01, TypeDef 0x02, Assembly 0x20, AssemblyRef 0x23.
    let mut t = Vec::new();
    u32le(&mut t, 0);
    t.extend_from_slice(&[2, 0, 0, 1]);
    let mut valid: u64 = 1 | 1 << 0x20 | 1 << 0x23;
    if !trefs.is_empty() {
        valid |= 1 << 1;
    }
    if !tdefs.is_empty() {
        valid |= 1 << 2;
    }
    t.extend_from_slice(&valid.to_le_bytes());
    t.extend_from_slice(&0u64.to_le_bytes());
    u32le(&mut t, 1);
    if !trefs.is_empty() {
        u32le(&mut t, trefs.len() as u32);
    }
    if !tdefs.is_empty() {
        u32le(&mut t, tdefs.len() as u32);
    }
    u32le(&mut t, 1);
    u32le(&mut t, refs.len() as u32);
    // Module: Generation, Name, Mvid, EncId, EncBaseId
    for v in [0, module, 1, 0, 0] {
        u16le(&mut t, v);
    }
    // TypeRef: ResolutionScope (AssemblyRef 1: tag 2), TypeName, TypeNamespace
    for (ns, n) in &trefs {
        for v in [1 << 2 | 2, *n, *ns] {
            u16le(&mut t, v);
        }
    }
    // TypeDef: Flags, TypeName, TypeNamespace, Extends (TypeRef 1: tag 1), FieldList, MethodList
    for (ns, n) in &tdefs {
        u32le(&mut t, 0x0010_0001);
        let extends = if trefs.is_empty() { 0 } else { 1 << 2 | 1 };
        for v in [*n, *ns, extends, 1, 1] {
            u16le(&mut t, v);
        }
    }
    // Assembly: HashAlgId, version, Flags, PublicKey, Name, Culture
    u32le(&mut t, 0x8004);
    for v in [0, 0, 0, 0] {
        u16le(&mut t, v);
    }
    u32le(&mut t, 0);
    for v in [0, name, 0] {
        u16le(&mut t, v);
    }
    // AssemblyRef: version, Flags, PublicKeyOrToken, Name, Culture, HashValue
    for r in &refs {
        for v in [4, 0, 0, 0] {
            u16le(&mut t, v);
        }
        u32le(&mut t, 0);
        for v in [0, *r, 0, 0] {
            u16le(&mut t, v);
        }
    }
    pad4(&mut t);

    // Metadata root.
    let streams: [(&str, &Vec<u8>); 5] = [
        ("#~", &t),
        ("#Strings", &strings),
        ("#US", &us),
        ("#GUID", &guid),
        ("#Blob", &blob),
    ];
    let mut header = Vec::new();
    u32le(&mut header, 0x424A_5342);
    u16le(&mut header, 1);
    u16le(&mut header, 1);
    u32le(&mut header, 0);
    let version = b"v4.0.30319\0\0";
    u32le(&mut header, version.len() as u32);
    header.extend_from_slice(version);
    u16le(&mut header, 0);
    u16le(&mut header, streams.len() as u16);
    let headers_len: usize = streams
        .iter()
        .map(|(n, _)| 8 + (n.len() + 1).div_ceil(4) * 4)
        .sum();
    let mut offset = header.len() + headers_len;
    for (n, data) in &streams {
        u32le(&mut header, offset as u32);
        u32le(&mut header, data.len() as u32);
        header.extend_from_slice(n.as_bytes());
        header.push(0);
        pad4(&mut header);
        offset += data.len();
    }
    let mut metadata = header;
    for (_, data) in &streams {
        metadata.extend_from_slice(data);
    }

    // Section .text at RVA 0x2000, file offset 0x200: CLI header, then the metadata.
    const RVA: u32 = 0x2000;
    let mut text = Vec::new();
    u32le(&mut text, 72);
    u16le(&mut text, 2);
    u16le(&mut text, 5);
    u32le(&mut text, RVA + 72);
    u32le(&mut text, metadata.len() as u32);
    u32le(&mut text, 1); // IL only
    u32le(&mut text, 0); // entry point token
    text.extend_from_slice(&[0; 48]); // resources, strong name, ... (empty)
    text.extend_from_slice(&metadata);
    let raw_size = text.len().div_ceil(0x200) * 0x200;
    text.resize(raw_size, 0);

    let mut pe = vec![0u8; 0x80];
    pe[0] = b'M';
    pe[1] = b'Z';
    pe[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    pe.extend_from_slice(b"PE\0\0");
    u16le(&mut pe, 0x014C); // i386
    u16le(&mut pe, 1); // sections
    u32le(&mut pe, 0x5F00_0000); // time stamp
    u32le(&mut pe, 0);
    u32le(&mut pe, 0);
    u16le(&mut pe, 0xE0); // optional header size
    u16le(&mut pe, 0x2102); // executable, 32-bit, DLL
                            // Optional header (PE32).
    u16le(&mut pe, 0x010B);
    pe.extend_from_slice(&[8, 0]);
    u32le(&mut pe, raw_size as u32); // code
    u32le(&mut pe, 0);
    u32le(&mut pe, 0);
    u32le(&mut pe, 0); // entry point
    u32le(&mut pe, RVA); // base of code
    u32le(&mut pe, 0x4000); // base of data
    u32le(&mut pe, 0x1000_0000); // image base
    u32le(&mut pe, 0x2000); // section alignment
    u32le(&mut pe, 0x200); // file alignment
    for v in [4, 0, 0, 0, 4, 0] {
        u16le(&mut pe, v);
    }
    u32le(&mut pe, 0);
    let image = RVA as usize + (raw_size.div_ceil(0x2000) * 0x2000);
    u32le(&mut pe, image as u32); // size of image
    u32le(&mut pe, 0x200); // size of headers
    u32le(&mut pe, 0); // checksum
    u16le(&mut pe, 3); // console subsystem
    u16le(&mut pe, 0x8540);
    for v in [0x10_0000, 0x1000, 0x10_0000, 0x1000, 0, 16] {
        u32le(&mut pe, v);
    }
    for i in 0..16 {
        if i == 14 {
            u32le(&mut pe, RVA);
            u32le(&mut pe, 72);
        } else {
            u32le(&mut pe, 0);
            u32le(&mut pe, 0);
        }
    }
    // Section header.
    pe.extend_from_slice(b".text\0\0\0");
    u32le(&mut pe, text.len() as u32);
    u32le(&mut pe, RVA);
    u32le(&mut pe, raw_size as u32);
    u32le(&mut pe, 0x200);
    u32le(&mut pe, 0);
    u32le(&mut pe, 0);
    u16le(&mut pe, 0);
    u16le(&mut pe, 0);
    u32le(&mut pe, 0x6000_0020);
    pe.resize(0x200, 0);
    pe.extend_from_slice(&text);
    pe
}
