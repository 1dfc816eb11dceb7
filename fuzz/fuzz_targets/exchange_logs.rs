//! The Exchange/IIS log parsers (HttpProxy, ECP Server, OABGeneratorLog, IIS W3C, Application
//! EVTX and the other event logs: MSExchange Management, Defender, Security, Sysmon, PowerShell) and the byte parsers of the assessment (SOFTWARE hive, minidump module list, zip
//! central directory) on any bytes. The first byte picks the log kind; the rest is the file.
#![no_main]

use deadbox::exchange::{self, LogKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let kind = match pick % 11 {
        0 => LogKind::HttpProxy {
            protocol: "Ecp".into(),
        },
        1 => LogKind::HttpProxy {
            protocol: "Owa".into(),
        },
        2 => LogKind::EcpServer,
        3 => LogKind::OabGenerator,
        4 => LogKind::Iis,
        5 => LogKind::ApplicationEvtx,
        n => LogKind::EventLog(exchange::EventLog::ALL[usize::from(n - 6) % 5]),
    };
    let report = exchange::check_log(&kind, body);
    assert!(report.traces.len() <= exchange::MAX_TRACES);
    assert!(report.diagnostics.len() <= exchange::MAX_DIAGNOSTICS);
    let _ = exchange::msi_install_paths(body);
    let _ = exchange::minidump_modules(body);
    let _ = exchange::is_lsass_dump(body);
    if let Ok(m) = exchange::zip_members(body) {
        assert!(m.len() as u64 <= exchange::MAX_ZIP_MEMBERS);
    }
    let _ = exchange::archive_kind(body);
});
