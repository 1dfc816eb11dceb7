//! Fuzz-style robustness test: random and mutated bytes (fixed seed) through every parser of
//! this module; passing means no panic, no hang, every result a value or a typed error.

use super::*;

#[path = "../../tests/support/regf_writer.rs"]
mod regf_writer;
#[path = "../../tests/support/rng.rs"]
mod rng;
use rng::Rng;

const TOKENS: &[&[u8]] = &[
    b",",
    b"\"",
    b"\"\"",
    b"\n",
    b"\r\n",
    b"#Fields: ",
    b" ",
    b"'",
    b"%3C",
    b"<script",
    b"url=",
    b"ServerInfo~",
    b"/",
    b"\\..\\",
    b"\xFF\xFE",
    b"\xEF\xBB\xBF",
    b"\0",
    b"\xC3",
    b"POST",
    b"Set-OabVirtualDirectory.ExternalUrl='",
    b"Download failed and temporary file '",
    b"proxy&port=",
    b"\xFF\xFF\xFF\xFF",
    b"\x00\x00\x00\x80",
    b"PK\x05\x06",
    b"nk",
    b"lf",
    b"ri",
    b"db",
    b"vk",
    b"MDMP",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.index(8) {
        match rng.index(6) {
            0 if !b.is_empty() => {
                let i = rng.index(b.len());
                b[i] = rng.next() as u8;
            }
            1 => {
                let i = rng.index(b.len() + 1);
                let t = TOKENS[rng.index(TOKENS.len())];
                b.splice(i..i, t.iter().copied());
            }
            2 if !b.is_empty() => {
                let i = rng.index(b.len());
                let j = (i + rng.index(64)).min(b.len());
                b.drain(i..j);
            }
            3 => b.truncate(rng.index(b.len() + 1)),
            4 if b.len() >= 4 => {
                // Overwrite a 32-bit field with an extreme value.
                let i = rng.index(b.len() - 3);
                let v = [0u32, 1, 0x7FFF_FFFF, 0x8000_0000, u32::MAX, 0xFFFF][rng.index(6)];
                b[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            _ => {
                let n = rng.index(32);
                b.extend((0..n).map(|_| rng.next() as u8));
            }
        }
    }
    b
}

fn text_seeds() -> Vec<(LogKind, Vec<u8>)> {
    let proxy = b"#Fields: DateTime,ClientIpAddress,UrlStem,AnchorMailbox,HttpStatus,TargetServer,UserAgent\r\n\
        2021-03-03T05:03:58.123Z,203.0.113.5,/ecp/y.js,ServerInfo~a]@e:444/ecp/DDI/DDIService.svc/SetObject?schema=ResetOABVirtualDirectory#,200,e,\"python-requests/2.25.1\"\r\n"
        .to_vec();
    let ecp = b"#Fields: DateTime,ServerName,ActivityContext\r\n2021-03-03T05:10:00Z,E,\"S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/<script runat=\"\"server\"\">x</script>'\"\r\n".to_vec();
    let oab = b"#Fields: date-time,message\r\n2021-03-03T04:58:41Z,\"Download failed and temporary file 'C:\\inetpub\\wwwroot\\aspnet_client\\a.aspx' needs to be removed\"\r\n".to_vec();
    let iis = b"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query c-ip cs(User-Agent) sc-status\r\n\
        2021-03-03 01:00:00 10.0.0.1 POST /aspnet_client/x.aspx proxy&port=1&ip=2 1.2.3.4 antSword/v2.1 200\r\n"
        .to_vec();
    vec![
        (
            LogKind::HttpProxy {
                protocol: "Ecp".into(),
            },
            proxy,
        ),
        (LogKind::EcpServer, ecp),
        (LogKind::OabGenerator, oab),
        (LogKind::Iis, iis),
    ]
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut rng = Rng(0x00DE_ADB0_7E11_F00D);
    let texts = text_seeds();
    let minidump = minidump::tests::build(&[r"C:\Windows\System32\lsass.exe", "ntdll.dll"]);
    let zip = archive::tests::build(&["a.txt", "lsass.dmp"], b"", false);
    let zip64 = archive::tests::build(&["a.txt"], b"", true);
    let hive = regf_writer::exchange_software_hive(r"C:\Exch\V15\", r"C:\Exch\V14\");
    let kinds: Vec<LogKind> = texts.iter().map(|(k, _)| k.clone()).collect();
    for i in 0..3000 {
        let pure_random: Vec<u8> = (0..rng.index(512)).map(|_| rng.next() as u8).collect();
        // Text logs: mutated seeds, and random bytes through every kind.
        let (kind, seed) = &texts[i % texts.len()];
        let _ = check_log(kind, &mutate(&mut rng, seed));
        let _ = check_log(&kinds[rng.index(kinds.len())], &pure_random);
        // Binary parsers.
        for input in [
            mutate(&mut rng, &minidump),
            mutate(&mut rng, &zip),
            mutate(&mut rng, &zip64),
            mutate(&mut rng, &hive),
            pure_random.clone(),
        ] {
            let _ = is_minidump(&input);
            let _ = minidump_modules(&input);
            let _ = is_lsass_dump(&input);
            let _ = archive_kind(&input);
            let _ = zip_members(&input);
            let _ = msi_install_paths(&input);
        }
        // Paths and times.
        let s = String::from_utf8_lossy(&pure_random);
        let _ = classify_log(&s, &[s.to_string()]);
        let _ = windows_path_to_volume_path(&s);
        let _ = drop_folder(&s, &[]);
        let _ = campaign_name(&s);
        let _ = is_web_script(&s);
        let _ = lsass_name(&s);
        let mut t = || [rng.next(), rng.next(), rng.next(), rng.next()].map(crate::ntfs::FileTime);
        let (a, b) = (t(), t());
        let _ = timestomp_reasons(&a, &b);
    }
}

#[test]
fn mutated_evtx_never_panics() {
    let real = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/evtx/MSExchange_Management_wec.evtx");
    let Ok(seed) = std::fs::read(&real) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "corpus file {} missing under CI=true",
            real.display()
        );
        eprintln!(
            "corpus EVTX {} missing: mutating a bare header only",
            real.display()
        );
        let mut header = b"ElfFile\0".to_vec();
        header.resize(4096 + 65536, 0);
        return run_evtx(&header);
    };
    run_evtx(&seed);
}

/// The event-log checks on mutated real samples of their own logs: never a panic, bounded.
#[test]
fn mutated_event_logs_never_panic() {
    use super::eventlog::{check_event_log, EventLog};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/evtx");
    for (name, log) in [
        (
            "msexchange_management_install_transportagent.evtx",
            EventLog::ExchangeManagement,
        ),
        ("defender_1116_1117_atomic.evtx", EventLog::Defender),
        ("sysmon_1_w3wp_cmd_webshell.evtx", EventLog::Sysmon),
        ("sysmon_1_w3wp_cmd_webshell.evtx", EventLog::Security),
        ("powershell_4104_minidump_lsass.evtx", EventLog::PowerShell),
    ] {
        let Ok(seed) = std::fs::read(dir.join(name)) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "corpus file {name} missing under CI=true"
            );
            eprintln!("corpus EVTX {name} missing: skipped");
            continue;
        };
        let mut rng = Rng(0x5EED_0001);
        for _ in 0..60 {
            let r = check_event_log(log, &mutate(&mut rng, &seed));
            assert!(r.traces.len() <= MAX_TRACES);
            assert!(
                !r.diagnostics.iter().any(|d| d.contains("panicked")),
                "{name}: {:?}",
                r.diagnostics
            );
        }
    }
}

fn run_evtx(seed: &[u8]) {
    let mut rng = Rng(0x0BAD_5EED);
    for _ in 0..150 {
        let r = check_application_evtx(&mutate(&mut rng, seed));
        assert!(r.traces.len() <= MAX_TRACES);
        assert!(
            !r.diagnostics.iter().any(|d| d.contains("panicked")),
            "{:?}",
            r.diagnostics
        );
    }
}

/// Large hostile inputs that would be slow with a quadratic scan; they must simply finish
/// (a regression shows up as a hanging test, no time is asserted).
#[test]
fn large_hostile_lines_finish() {
    let mut ecp = b"2021-03-03T05:10:00Z,S:CMD=Set-OabVirtualDirectory.".to_vec();
    ecp.extend(b"ExternalUrl=".repeat(100_000));
    ecp.extend(b"\n");
    ecp.extend(b"Set-".repeat(100_000));
    let r = check_log(&LogKind::EcpServer, &ecp);
    assert_eq!(r.entries, 2);
    let mut proxy = b"#Fields: DateTime,AnchorMailbox,UrlStem\n".to_vec();
    for i in 0..20_000 {
        proxy.extend(format!("2021-03-03T05:10:00Z,ServerInfo~x/y,/ecp/{i}.js\n").bytes());
    }
    let r = check_log(
        &LogKind::HttpProxy {
            protocol: "Ecp".into(),
        },
        &proxy,
    );
    assert_eq!(r.traces.len(), MAX_TRACES);
    assert!(r.diagnostics.iter().any(|d| d.contains("trace limit")));
    let mut oab = b"\"".to_vec();
    oab.extend(b",\"\"".repeat(200_000));
    let _ = check_log(&LogKind::OabGenerator, &oab);
    let mut iis = b"#Fields: date time cs-method cs-uri-stem\n2021-03-03 01:00:00 POST /".to_vec();
    iis.extend(b"%41".repeat(200_000));
    let _ = check_log(&LogKind::Iis, &iis);
}
