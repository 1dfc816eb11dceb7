//! Container header and table parsing (E01, VHD, VHDX, VMDK, qcow2) and reads through them, on
//! any bytes. The first byte picks the container's magic, which is written in front of the rest
//! so every input reaches a reader; the file goes to a RAM folder because readers open paths.
#![no_main]

use deadbox::evidence;
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fn scratch() -> std::path::PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("deadbox-fuzz-containers-{}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let magic: &[u8] = match pick % 6 {
        0 => b"EVF\x09\x0d\x0a\xff\x00",
        1 => b"vhdxfile",
        2 => b"KDMV",
        3 => b"# Disk DescriptorFile\n",
        4 => b"QFI\xfb",
        _ => b"conectix",
    };
    let dir = scratch();
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("input.img");
    {
        let Ok(mut f) = std::fs::File::create(&path) else {
            return;
        };
        let _ = f.write_all(magic);
        let _ = f.write_all(body);
    }
    if let Ok(ev) = evidence::open(&path) {
        let len = ev.len();
        let mut buf = vec![0u8; 4096];
        for off in [
            0u64,
            512,
            65_536,
            1 << 20,
            len / 2,
            len.saturating_sub(4096),
        ] {
            if off < len {
                let n = (len - off).min(buf.len() as u64) as usize;
                let _ = ev.read_exact_at(off, &mut buf[..n]);
            }
        }
        let _ = ev.format();
    }
});
