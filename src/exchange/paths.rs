//! Paths: install folders, which log check applies, web-shell drop folders and names, LSASS
//! dump names.
//!
//! Every path given to these functions is volume-rooted and `/`-separated as the scan engine
//! builds it (`/Program Files/…`); `\` is accepted too, and comparisons ignore ASCII case.

use super::LogKind;

/// Default Exchange install folders (volume-rooted), used when the SOFTWARE hive does not name
/// one: Exchange 2013/2016/2019 (`V15`) and Exchange 2010 (`V14`).
pub fn default_install_dirs() -> &'static [&'static str] {
    &[
        "/Program Files/Microsoft/Exchange Server/V15",
        "/Program Files/Microsoft/Exchange Server/V14",
    ]
}

/// Lowercased path components, `\` and `/` both separators, `.` dropped and `..` resolved
/// (never above the root), empty components dropped.
pub(crate) fn components(p: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in p.split(['/', '\\']) {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c.to_lowercase()),
        }
    }
    out
}

/// Splits a Windows path (`C:\Program Files\…\V15\`, `\\?\C:\…`, quoted or not) into its
/// drive letter (uppercase) and a volume-rooted `/`-separated path without trailing separator,
/// `.` and `..` resolved, case kept. `("/", None)`-style results are possible for odd input.
///
/// ```
/// use deadbox::exchange::windows_path_to_volume_path;
/// assert_eq!(
///     windows_path_to_volume_path(r"C:\Program Files\Microsoft\Exchange Server\V15\"),
///     (Some('C'), "/Program Files/Microsoft/Exchange Server/V15".to_string())
/// );
/// ```
pub fn windows_path_to_volume_path(p: &str) -> (Option<char>, String) {
    let mut s = p.trim().trim_matches('"').trim_end_matches('\0').trim();
    for prefix in [r"\\?\", r"\??\", r"\\.\"] {
        if let Some(r) = s.strip_prefix(prefix) {
            s = r;
        }
    }
    let mut drive = None;
    let mut chars = s.chars();
    if let (Some(d), Some(':')) = (chars.next(), chars.next()) {
        if d.is_ascii_alphabetic() {
            drive = Some(d.to_ascii_uppercase());
            s = s.get(2..).unwrap_or("");
        }
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in s.split(['/', '\\']) {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    (drive, format!("/{}", parts.join("/")))
}

/// Install folders to use: the given ones plus the defaults, as component lists.
fn install_roots(installs: &[String]) -> Vec<Vec<String>> {
    let mut roots: Vec<Vec<String>> = installs.iter().map(|i| components(i)).collect();
    for d in default_install_dirs() {
        let c = components(d);
        if !roots.contains(&c) {
            roots.push(c);
        }
    }
    roots.retain(|r| !r.is_empty());
    roots
}

/// The components of `path` below the first install folder containing it.
fn below_install(path: &[String], installs: &[String]) -> Option<Vec<String>> {
    install_roots(installs).into_iter().find_map(|root| {
        path.starts_with(&root)
            .then(|| path.get(root.len()..).map(<[String]>::to_vec))
            .flatten()
    })
}

fn has_ext(name: &str, exts: &[&str]) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, e)| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Which log check applies to a file, from its volume-rooted path (case-insensitive), given
/// the install folders found (volume-rooted, e.g. `/Program Files/Microsoft/Exchange Server/V15`;
/// the [`default_install_dirs`] are always tried as well).
///
/// - `<install>/Logging/HttpProxy/<Protocol>/*.log` → [`LogKind::HttpProxy`]
/// - `<install>/Logging/ECP/Server/*.log` → [`LogKind::EcpServer`]
/// - `<install>/Logging/OABGeneratorLog/*.log` → [`LogKind::OabGenerator`]
/// - `…/LogFiles/W3SVC<n>/*.log` anywhere (default `/inetpub/logs/LogFiles`) → [`LogKind::Iis`]
/// - `/Windows/System32/winevt/Logs/Application.evtx` → [`LogKind::ApplicationEvtx`]
/// - `/Windows/System32/winevt/Logs/` `MSExchange Management.evtx`, `Security.evtx`,
///   `Microsoft-Windows-Windows Defender%4Operational.evtx`,
///   `Microsoft-Windows-Sysmon%4Operational.evtx`,
///   `Microsoft-Windows-PowerShell%4Operational.evtx` → [`LogKind::EventLog`]
pub fn classify_log(path: &str, installs: &[String]) -> Option<LogKind> {
    let comps = components(path);
    let name = comps.last()?;
    if comps.len() == 5 && comps[..4] == ["windows", "system32", "winevt", "logs"] {
        if name == "application.evtx" {
            return Some(LogKind::ApplicationEvtx);
        }
        return super::EventLog::from_file_name(name).map(LogKind::EventLog);
    }
    if !has_ext(name, &["log"]) {
        return None;
    }
    if let Some(rel) = below_install(&comps, installs) {
        let rel: Vec<&str> = rel.iter().map(String::as_str).collect();
        match rel.as_slice() {
            ["logging", "httpproxy", _, _] => {
                // Keep the protocol folder's case as written in the path.
                let protocol = path
                    .split(['/', '\\'])
                    .filter(|c| !c.is_empty())
                    .rev()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                return Some(LogKind::HttpProxy { protocol });
            }
            ["logging", "ecp", "server", _] => return Some(LogKind::EcpServer),
            ["logging", "oabgeneratorlog", _] => return Some(LogKind::OabGenerator),
            _ => {}
        }
    }
    let n = comps.len();
    if n >= 3 {
        let site = comps.get(n - 2)?;
        let logfiles = comps.get(n - 3)?;
        if logfiles == "logfiles"
            && site
                .strip_prefix("w3svc")
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        {
            return Some(LogKind::Iis);
        }
    }
    None
}

/// True for server-side script extensions IIS executes or that commonly hold web shells:
/// `.aspx .ashx .asmx .ascx .asax .asp .asa .cer .cdx .cshtml .vbhtml .svc .soap .rem .php .jsp`.
pub fn is_web_script(path: &str) -> bool {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    has_ext(
        name,
        &[
            "aspx", "ashx", "asmx", "ascx", "asax", "asp", "asa", "cer", "cdx", "cshtml", "vbhtml",
            "svc", "soap", "rem", "php", "jsp",
        ],
    )
}

/// Label of the known ProxyLogon web-shell drop folder `path` is in (at any depth), or `None`:
/// `aspnet_client/system_web`, `aspnet_client` (under `/inetpub/wwwroot`),
/// `HttpProxy/owa/auth`, `HttpProxy/ecp/auth`, `HttpProxy/oab`, `ClientAccess/ecp`,
/// `ClientAccess/oab` (under an install folder), and `Temporary ASP.NET Files` (anywhere).
pub fn drop_folder(path: &str, installs: &[String]) -> Option<&'static str> {
    let comps = components(path);
    let dir = comps.get(..comps.len().saturating_sub(1))?;
    let strs: Vec<&str> = dir.iter().map(String::as_str).collect();
    if let ["inetpub", "wwwroot", "aspnet_client", rest @ ..] = strs.as_slice() {
        return Some(if rest.first() == Some(&"system_web") {
            "aspnet_client/system_web"
        } else {
            "aspnet_client"
        });
    }
    if let Some(rel) = below_install(dir, installs) {
        let rel: Vec<&str> = rel.iter().map(String::as_str).collect();
        match rel.as_slice() {
            ["frontend", "httpproxy", "owa", "auth", ..] => return Some("HttpProxy/owa/auth"),
            ["frontend", "httpproxy", "ecp", "auth", ..] => return Some("HttpProxy/ecp/auth"),
            ["frontend", "httpproxy", "oab", ..] => return Some("HttpProxy/oab"),
            ["clientaccess", "ecp", ..] => return Some("ClientAccess/ecp"),
            ["clientaccess", "oab", ..] => return Some("ClientAccess/oab"),
            _ => {}
        }
    }
    if strs.contains(&"temporary asp.net files") {
        return Some("Temporary ASP.NET Files");
    }
    None
}

/// Web-shell file names seen in the ProxyLogon campaign (compared case-insensitively).
const CAMPAIGN_NAMES: &[&str] = &[
    "shell.aspx",
    "supp0rt.aspx",
    "discover.aspx",
    "HttpProxy.aspx",
    "OutlookEN.aspx",
    "errorPage.aspx",
    "one1.aspx",
    "shel90.aspx",
    "logg.aspx",
    "xx.aspx",
];

/// Label when the file name is one seen in the campaign (`shell.aspx`, `supp0rt.aspx`, …,
/// returned as listed), or a random-looking 8-character `[A-Za-z0-9]{8}.aspx` anywhere under
/// `aspnet_client` (returns `"random 8-character name in aspnet_client"`).
pub fn campaign_name(path: &str) -> Option<&'static str> {
    let comps = components(path);
    let name_orig = path.rsplit(['/', '\\']).next().unwrap_or(path);
    if let Some(n) = CAMPAIGN_NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name_orig))
    {
        return Some(n);
    }
    let in_aspnet_client = comps
        .iter()
        .take(comps.len().saturating_sub(1))
        .any(|c| c == "aspnet_client");
    let name = comps.last()?;
    if in_aspnet_client {
        if let Some(stem) = name.strip_suffix(".aspx") {
            if stem.len() == 8 && stem.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Some("random 8-character name in aspnet_client");
            }
        }
    }
    None
}

/// True when the file name looks like an LSASS dump: it contains `lsass` and ends in `.dmp`
/// or `.mdmp`, or is exactly `lsass` (procdump/comsvcs output renamed without extension).
/// Content must still be confirmed with [`super::is_lsass_dump`].
pub fn lsass_name(path: &str) -> bool {
    let name = path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase();
    name == "lsass" || (name.contains("lsass") && has_ext(&name, &["dmp", "mdmp"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v15() -> Vec<String> {
        vec!["/Program Files/Microsoft/Exchange Server/V15".to_string()]
    }

    #[test]
    fn windows_paths() {
        assert_eq!(
            windows_path_to_volume_path(r"D:\Exchange\\V15\bin\..\"),
            (Some('D'), "/Exchange/V15".to_string())
        );
        assert_eq!(
            windows_path_to_volume_path("\"\\\\?\\c:\\x\\y\0\""),
            (Some('C'), "/x/y".to_string())
        );
        assert_eq!(
            windows_path_to_volume_path("relative\\p"),
            (None, "/relative/p".into())
        );
        assert_eq!(windows_path_to_volume_path(""), (None, "/".into()));
        assert_eq!(windows_path_to_volume_path("é:"), (None, "/é:".into()));
    }

    #[test]
    fn classify() {
        let i = v15();
        let base = "/program files/microsoft/exchange server/v15/Logging";
        assert_eq!(
            classify_log(
                &format!("{base}/HttpProxy/Ecp/HttpProxy_2021030301-1.LOG"),
                &i
            ),
            Some(LogKind::HttpProxy {
                protocol: "Ecp".into()
            })
        );
        assert_eq!(
            classify_log(&format!("{base}/HttpProxy/Ecp/x.txt"), &i),
            None
        );
        assert_eq!(classify_log(&format!("{base}/HttpProxy/x.log"), &i), None);
        assert_eq!(
            classify_log(&format!("{base}/ECP/Server/ECPServer_2021030301-1.LOG"), &i),
            Some(LogKind::EcpServer)
        );
        assert_eq!(
            classify_log(
                &format!("{base}/OABGeneratorLog/OABGeneratorLog_1.log"),
                &[]
            ),
            Some(LogKind::OabGenerator)
        );
        let custom = vec!["/Exch".to_string()];
        assert_eq!(
            classify_log("/Exch/Logging/OABGeneratorLog/a.log", &custom),
            Some(LogKind::OabGenerator)
        );
        assert_eq!(
            classify_log("/Other/Logging/OABGeneratorLog/a.log", &i),
            None
        );
        assert_eq!(
            classify_log("/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", &i),
            Some(LogKind::Iis)
        );
        assert_eq!(
            classify_log("/inetpub/logs/LogFiles/W3SVC/u_ex.log", &i),
            None
        );
        assert_eq!(
            classify_log("/Windows/System32/winevt/Logs/Application.evtx", &i),
            Some(LogKind::ApplicationEvtx)
        );
        assert_eq!(
            classify_log("/Windows/System32/winevt/Logs/System.evtx", &i),
            None
        );
        assert_eq!(
            classify_log(
                "/Windows/System32/winevt/Logs/MSExchange Management.evtx",
                &i
            ),
            Some(LogKind::EventLog(
                crate::exchange::EventLog::ExchangeManagement
            ))
        );
        assert_eq!(
            classify_log(
                "/WINDOWS/system32/winevt/Logs/Microsoft-Windows-Sysmon%4Operational.evtx",
                &i
            ),
            Some(LogKind::EventLog(crate::exchange::EventLog::Sysmon))
        );
        assert_eq!(classify_log("/Temp/Security.evtx", &i), None);
        assert_eq!(classify_log("", &i), None);
    }

    #[test]
    fn drop_folders_and_names() {
        let i = v15();
        assert_eq!(
            drop_folder(
                "/inetpub/wwwroot/aspnet_client/system_web/abcdEFG1.aspx",
                &i
            ),
            Some("aspnet_client/system_web")
        );
        assert_eq!(
            drop_folder("/inetpub/wwwroot/aspnet_client/x.aspx", &i),
            Some("aspnet_client")
        );
        assert_eq!(
            drop_folder("/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/15.1.2106/x.aspx", &i),
            Some("HttpProxy/owa/auth")
        );
        assert_eq!(
            drop_folder(
                "/Program Files/Microsoft/Exchange Server/V15/ClientAccess/ecp/x.aspx",
                &[]
            ),
            Some("ClientAccess/ecp")
        );
        assert_eq!(
            drop_folder("/Windows/Microsoft.NET/Framework64/v4.0.30319/Temporary ASP.NET Files/owa/1/App_Web_x.dll", &i),
            Some("Temporary ASP.NET Files")
        );
        assert_eq!(drop_folder("/inetpub/wwwroot/iisstart.htm", &i), None);
        assert_eq!(drop_folder("/", &i), None);
        assert_eq!(campaign_name("/x/Supp0rt.ASPX"), Some("supp0rt.aspx"));
        assert_eq!(
            campaign_name("/inetpub/wwwroot/aspnet_client/system_web/Ab3dEf9h.aspx"),
            Some("random 8-character name in aspnet_client")
        );
        assert_eq!(campaign_name("/inetpub/wwwroot/Ab3dEf9h.aspx"), None);
        assert_eq!(
            campaign_name("/inetpub/wwwroot/aspnet_client/Ab3dEf9.aspx"),
            None
        );
        assert_eq!(
            campaign_name("/inetpub/wwwroot/aspnet_client/Ab3d-f9h.aspx"),
            None
        );
        assert!(is_web_script("/a/B.AsPx"));
        assert!(!is_web_script("/a/b.css"));
        assert!(!is_web_script("aspx"));
        assert!(lsass_name("/Windows/Temp/lsass.DMP"));
        assert!(lsass_name("/root/lsass_0303.dmp"));
        assert!(lsass_name("/root/lsass"));
        assert!(!lsass_name("/root/lsass.exe"));
        assert!(!lsass_name("/root/memory.dmp"));
    }
}
