// XSLT-based shells (code in an msxsl:script block run by XslCompiledTransform with
// scripting enabled) and handler-based shells (IHttpHandler / .ashx executing request data).

rule xslt_script_shell
{
    meta:
        description = "Server-side page running an XSLT stylesheet with embedded msxsl:script code and scripting enabled (XSLT web shell)"
        severity = "high"
        category = "xslt"
        author = "deadbox"
    strings:
        $script = "msxsl:script" nocase
        $en1 = "TrustedXslt" nocase
        $en2 = /XsltSettings\s*\(\s*true/ nocase
        $en3 = /EnableScript\s*=\s*true/ nocase
        $xct = "XslCompiledTransform" nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and $script and $xct and any of ($en*) and any of ($ss*)
}

rule xslt_stylesheet_from_request
{
    meta:
        description = "Server-side page compiling an XSLT stylesheet taken from the request with scripting enabled (XSLT web shell)"
        severity = "high"
        category = "xslt"
        author = "deadbox"
    strings:
        $xct = "XslCompiledTransform" nocase
        $en1 = "TrustedXslt" nocase
        $en2 = /XsltSettings\s*\(\s*true/ nocase
        $en3 = /EnableScript\s*=\s*true/ nocase
        // the stylesheet handed to Load() comes from the request
        $load_req = /\.Load\s*\([^;]{0,160}[^A-Za-z]Request\s*(\(|\[|\.Form|\.Item|\.QueryString|\.Params|\.InputStream|\.BinaryRead)/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and $xct and any of ($en*) and $load_req and any of ($ss*)
}

rule xslt_script_dangerous_code
{
    meta:
        description = "XSLT msxsl:script block containing code execution (eval of request data, process start, assembly load)"
        severity = "critical"
        category = "xslt"
        author = "deadbox"
    strings:
        $script = "msxsl:script" nocase
        $x1 = /eval\s*\([^;]{0,160}Request/
        $x2 = /eval\s*\([^;]{1,400},\s*["']unsafe["']/
        $x3 = "Process.Start(" nocase
        $x4 = "ProcessStartInfo" nocase
        $x5 = /Assembly\]?\s*\.\s*Load\s*\(/ nocase
    condition:
        uint16(0) != 0x5A4D and $script and any of ($x*)
}

rule handler_executes_request_data
{
    meta:
        description = "HTTP handler (.ashx / IHttpHandler) that runs commands, loads code or drives the file system from request data (handler web shell)"
        severity = "high"
        category = "handler"
        author = "deadbox"
    strings:
        $h1 = /<%@\s{0,8}WebHandler/ nocase
        $h2 = "IHttpHandler" nocase
        $req = /(context|Request)\s*\.\s*(Request\s*(\[|\.Form|\.QueryString|\.Params|\.Item|\.Headers|\.InputStream|\.BinaryRead|\.Cookies)|Form\s*\[|QueryString\s*\[|Params\s*\[|InputStream|BinaryRead)/ nocase
        // One string per call (not one alternation): YARA-X then anchors each on the call's
        // name, not on the word "request", which ordinary text is full of (8x faster on text).
        $direct1 = /ProcessStartInfo\s*\([^;]{0,160}Request/ nocase
        $direct2 = /Process\s*\.\s*Start\s*\([^;]{0,160}Request/ nocase
        $direct3 = /Assembly\s*\.\s*Load\s*\([^;]{0,160}Request/ nocase
        $direct4 = /JScriptEvaluate\s*\([^;]{0,160}Request/ nocase
        $direct5 = /CompileAssemblyFromSource\s*\([^;]{0,160}Request/ nocase
        $proc1 = "ProcessStartInfo" nocase
        $proc2 = "Process.Start(" nocase
        $shell1 = "cmd.exe" nocase
        $shell2 = "powershell" nocase
        $shell3 = "\"cmd\"" nocase
        $cap_load = /Assembly\]?\s*\.\s*Load\s*\(/ nocase
        $cap_eval = "JScriptEvaluate" nocase
        $cap_drives = "GetLogicalDrives" nocase
        $cap_del = /Directory\s*\.\s*Delete\s*\(/ nocase
        $cap_redirect = "RedirectStandardOutput" nocase
        $cap_stomp = /File\s*\.\s*SetCreationTime/ nocase
    condition:
        uint16(0) != 0x5A4D and any of ($h*) and $req and (
            any of ($direct*) or
            (any of ($proc*) and any of ($shell*)) or
            2 of ($cap*)
        )
}
