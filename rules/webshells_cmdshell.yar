// Command shells: a server-side page starting cmd.exe / powershell through
// System.Diagnostics.Process, or WScript.Shell from ASP / aspcompat pages. A page that
// merely names cmd.exe in text, or that starts an unrelated helper process, is not flagged.

rule cmdshell_process_start_shell
{
    meta:
        description = "ASP.NET page starting cmd.exe or PowerShell through System.Diagnostics.Process and feeding it input or reading its output (command shell)"
        severity = "high"
        category = "cmdshell"
        author = "deadbox"
    strings:
        $p1 = "ProcessStartInfo" nocase
        $p2 = "Process.Start(" nocase
        $p3 = /\.StartInfo\s*\.\s*FileName/ nocase
        $sh1 = "cmd.exe" nocase
        $sh2 = "\"cmd\"" nocase
        $sh3 = "powershell" nocase
        $use1 = "RedirectStandardOutput" nocase
        $use2 = "StandardOutput.ReadToEnd" nocase
        $use3 = /["' ]\/c\s/ nocase
        $use5 = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($p*) and any of ($sh*) and any of ($ss*) and any of ($use*)
}

rule cmdshell_process_start_request
{
    meta:
        description = "ASP.NET page starting a process whose file name or arguments come straight from the request"
        severity = "high"
        category = "cmdshell"
        author = "deadbox"
    strings:
        $a1 = /ProcessStartInfo\s*\(\s*[^)]{0,80}Request\s*[\.\[\(]/ nocase
        $a2 = /Process\s*\.\s*Start\s*\(\s*[^;]{0,80}Request\s*[\.\[\(]/ nocase
        $a3 = /\.(Arguments|FileName)\s*=\s*[^;]{0,80}Request\s*[\.\[\(]/ nocase
        // the same with the value taken from a server control of the page (TextBox.Text,
        // HtmlInputText.Value)
        $t1 = /ProcessStartInfo\s*\(\s*[^);]{0,80}\.(Text|Value)\s*[\),+]/ nocase
        $t2 = /Process\s*\.\s*Start\s*\(\s*[^;]{0,80}\.(Text|Value)\s*[\),+]/ nocase
        $t3 = /\.(Arguments|FileName)\s*=\s*[^;\r\n]{0,80}\.(Text|Value)\s*[;\r\n+]/ nocase
        $proc1 = "ProcessStartInfo" nocase
        $proc2 = "Process.Start(" nocase
        $proc3 = /\.StartInfo\s*\.\s*(FileName|Arguments)/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($ss*) and any of ($proc*) and (any of ($a*) or any of ($t*))
}

rule cmdshell_wscript_shell
{
    meta:
        description = "Server-side ASP page driving WScript.Shell (Exec/Run)"
        severity = "high"
        category = "cmdshell"
        author = "deadbox"
    strings:
        $srv_obj = /Server\.CreateObject\s*\(\s*["']WScript\.Shell["']/ nocase
        $ax_obj = /ActiveXObject\s*\(\s*["']WScript\.Shell["']/ nocase
        $any_obj = /CreateObject\s*\(\s*["']WScript\.Shell["']/ nocase
        $clsid_obj = "72C24DD5-D70A-438B-8A42-98424B88AFB8" nocase
        $x1 = /\.Exec\s*\(/ nocase
        $x2 = /\.Run\s*[\( ]/ nocase
        $req = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
        $runat = /runat\s*=\s*["']?server/ nocase
        $srv = "Server.CreateObject" nocase
        $dir = /<%@\s{0,8}(Page|Language)/ nocase
        // an inline <% %> / <%= %> block creating the shell object (one-liner without a directive)
        $inline = /<%[^%]{0,80}CreateObject\s*\(\s*["']WScript\.Shell["']/ nocase
    condition:
        uint16(0) != 0x5A4D and any of ($x*) and (
            $srv_obj or
            ($ax_obj and $runat) or
            (($any_obj or $clsid_obj) and $req and ($runat or $srv or $dir or $inline))
        )
}

rule cmdshell_powershell_runspace
{
    meta:
        description = "ASP.NET page running PowerShell in-process (runspace / PowerShell.Create) on a script taken from the request or a form field"
        severity = "high"
        category = "cmdshell"
        author = "deadbox"
    strings:
        $ps1 = "RunspaceFactory" nocase
        $ps2 = /PowerShell\s*\.\s*Create\s*\(/ nocase
        $add = /\.(AddScript|AddCommand)\s*\(/ nocase
        $in1 = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
        $in2 = /\.(AddScript|AddCommand)\s*\(\s*[^;)]{0,80}\.Text\s*[\),]/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($ps*) and $add and any of ($in*) and any of ($ss*)
}

rule cmdshell_wmi_process_create
{
    meta:
        description = "ASP.NET page creating processes through WMI Win32_Process.Create"
        severity = "high"
        category = "cmdshell"
        author = "deadbox"
    strings:
        $wmi = "Win32_Process" nocase
        $create = /InvokeMethod\s*\(\s*["']Create["']/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and $wmi and $create and any of ($ss*)
}

rule cmdshell_sql_xp_cmdshell
{
    meta:
        description = "Server-side page sending xp_cmdshell / sp_oacreate commands to SQL Server (command execution through the database)"
        severity = "high"
        category = "cmdshell"
        author = "deadbox"
    strings:
        $xp1 = "xp_cmdshell" nocase
        $xp2 = "sp_oacreate" nocase
        $db1 = "SqlConnection" nocase
        $db2 = "OleDbConnection" nocase
        $db3 = "ADODB.Connection" nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
        $ss4 = "Server.CreateObject" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($xp*) and any of ($db*) and any of ($ss*)
}
