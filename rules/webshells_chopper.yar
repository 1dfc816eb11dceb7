// China Chopper family: JScript.NET `eval` of request data with the "unsafe" option,
// its obfuscations (\x / \u escapes, string concatenation, fromCharCode, GIF89a prefix),
// the C# variant (Microsoft.JScript Eval.JScriptEvaluate), classic ASP eval/execute of
// request data, and the CVE-2021-27065 form: the script stored in a virtual-directory
// settings dump (ExternalUrl / InternalUrl).
//
// Rules key on behaviour (server-side script + evaluation of request data), not on the
// parameter names or passwords of known samples.

rule chopper_jscript_eval_unsafe
{
    meta:
        description = "Server-side JScript eval with the 'unsafe' option (China Chopper one-liner)"
        severity = "critical"
        category = "webshell"
        author = "deadbox"
    strings:
        $unsafe = /eval\s*\([^;]{1,400},\s*["']unsafe["']\s*\)/
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "<%eval" nocase
        $ss4 = "<% eval" nocase
        $ss5 = "HttpContext" nocase
    condition:
        uint16(0) != 0x5A4D and $unsafe and any of ($ss*)
}

rule chopper_jscript_eval_obfuscated
{
    meta:
        description = "Server-side JScript eval whose option string is escaped or concatenated (obfuscated China Chopper)"
        severity = "critical"
        category = "webshell"
        author = "deadbox"
    strings:
        // second argument of eval() built from escapes, concatenation or char codes
        // (\x75 or \u0075 style; written so that "eval" is the pattern's atom, not the
        // escape, which is frequent in other text). Case-sensitive: JScript's eval is
        // lowercase, and ASP.NET data binding writes `Eval(` in every other benign page.
        $esc = /eval\s*\([^;]{1,400},\s*["'][a-zA-Z]{0,5}\\[xu]0{0,2}[0-9a-fA-F]{2}/
        $concat = /eval\s*\([^;]{1,400},\s*["'][a-zA-Z\\0-9]{1,24}["']\s*\+\s*["']/
        $charcode = /eval\s*\([^;]{1,400},\s*String\.fromCharCode\s*\(/
        // "unsafe" spelled with escapes anywhere near an eval
        $unsafe_x = "\\x75\\x6e\\x73\\x61\\x66\\x65" nocase
        $unsafe_u = "\\u0075\\u006e\\u0073\\u0061\\u0066\\u0065" nocase
        $eval = "eval("
        // two-argument eval() is JScript.NET only: require the page to be JScript
        $js = /language\s*=\s*["']?jscript/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "<%eval" nocase
        $ss4 = "<% eval" nocase
        $ss5 = "HttpContext" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($ss*) and (
            ($js and any of ($esc, $concat, $charcode)) or
            ($eval and any of ($unsafe_x, $unsafe_u))
        )
}

rule chopper_jscript_eval_request
{
    meta:
        description = "Server-side JScript page that evaluates request data with eval()"
        severity = "critical"
        category = "webshell"
        author = "deadbox"
    strings:
        // eval( followed closely by the Request object (not inside an inline <%= %> block)
        $eval_req = /eval\s*\([^;<\n]{0,160}[^A-Za-z<]Request\s*[\.\[\(]/
        $eval_req0 = /eval\s*\(\s*Request\s*[\.\[\(]/
        $js1 = /language\s*=\s*["']?jscript/ nocase
        $js2 = /language\s*=\s*["']?javascript["']?\s+runat/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
    condition:
        uint16(0) != 0x5A4D and any of ($eval_req*) and any of ($js*) and any of ($ss*)
}

rule chopper_jscript_server_eval
{
    meta:
        description = "Server-side JScript.NET page or script block that calls eval() and reads the request (China Chopper with the input passed through variables)"
        severity = "high"
        category = "webshell"
        author = "deadbox"
    strings:
        $page = /<%@\s{0,8}(Page|WebHandler|WebService|Control)[^>]{0,200}Language\s*=\s*["']?JScript/ nocase
        $block1 = /<script[^>]{0,100}language\s*=\s*["']?JScript["']?[^>]{0,100}runat\s*=\s*["']?server/ nocase
        $block2 = /<script[^>]{0,100}runat\s*=\s*["']?server["']?[^>]{0,100}language\s*=\s*["']?JScript/ nocase
        $eval = /[^A-Za-z0-9_.]eval\s*\(/
        $req = /[^A-Za-z]Request\s*(\(|\[|\.Form|\.Item|\.QueryString|\.Params|\.Cookies|\.Headers|\.BinaryRead|\.InputStream)/
    condition:
        uint16(0) != 0x5A4D and any of ($page, $block1, $block2) and $eval and $req
}

rule chopper_csharp_jscriptevaluate
{
    meta:
        description = "ASP.NET page evaluating request data through Microsoft.JScript Eval.JScriptEvaluate (C# China Chopper)"
        severity = "critical"
        category = "webshell"
        author = "deadbox"
    strings:
        $eval = "JScriptEvaluate" nocase
        $req = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and $eval and $req and any of ($ss*)
}

rule chopper_classic_asp_eval_request
{
    meta:
        description = "Page executing request data directly: eval, execute or executeglobal of Request (classic ASP, VBScript or JScript)"
        severity = "critical"
        category = "webshell"
        author = "deadbox"
    strings:
        // not Server.Execute(...): that runs another page, not code
        $x1 = /[^.A-Za-z_](eval|execute|executeglobal)[\s\(]{1,8}request\s*(\(|\[|\.form|\.item|\.querystring|\.cookies|\.servervariables)/ nocase
    condition:
        uint16(0) != 0x5A4D and $x1
}

rule chopper_gif89a_server_script
{
    meta:
        description = "File starting with a GIF89a header that carries server-side script (disguised web shell)"
        severity = "critical"
        category = "webshell"
        author = "deadbox"
    strings:
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control|Import)/ nocase
        $ss3 = "<%eval" nocase
        $ss4 = "<% eval" nocase
        $ss5 = "<%execute" nocase
    condition:
        uint32(0) == 0x38464947 and uint16(4) == 0x6139 and any of ($ss*)
}

rule oab_vdir_script_in_url
{
    meta:
        description = "Virtual-directory settings dump whose ExternalUrl/InternalUrl holds a server-side script (CVE-2021-27065 web shell)"
        severity = "critical"
        category = "oab_vdir"
        author = "deadbox"
    strings:
        // the script tag sits inside the URL value itself (http://f/<script ... runat="server">)
        $url_script = /(External|Internal)Url[^\r\n<]{0,60}[a-z]{2,8}:\/\/[^\s"'<>]{0,200}<script[^>\r\n]{0,200}runat/ nocase ascii wide
    condition:
        uint16(0) != 0x5A4D and any of them
}

rule chopper_compiled_page
{
    meta:
        description = "ASP.NET page assembly (Temporary ASP.NET Files App_Web_*.dll) compiled from a JScript page that evaluates code with the 'unsafe' option: a China Chopper page that already ran"
        severity = "high"
        category = "webshell"
        author = "deadbox"
    strings:
        $eval = "JScriptEvaluate"
        $unsafe = "unsafe" wide
        $page1 = /_(aspx|ashx|asmx)\x00/
        $page2 = /App_Web_[a-z0-9]{8}/
    condition:
        uint16(0) == 0x5A4D and $eval and $unsafe and any of ($page*) and filesize < 4MB
}

// A client of a one-liner: an HTML form whose text area holds server-side code that handles
// request data (writes it to a file, evaluates it, saves an upload, starts a process), to be
// posted to a web shell elsewhere. Not a shell itself, but an attacker's tool left on the
// server (or a page that hands such code on).
rule webshell_client_code_form
{
    meta:
        description = "HTML form posting server-side code that writes, evaluates or runs request data (a client of a one-liner web shell)"
        severity = "medium"
        category = "webshell"
        author = "deadbox"
    strings:
        $form = /<form[^>]{0,200}method\s*=\s*["']?post/ nocase
        $code1 = /<textarea[^>]{0,200}>[^<]{0,2000}(StreamWriter|WriteAllText|\.SaveAs|eval|Execute|Process\s*\.\s*Start)\s*\([^<]{0,400}Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]/ nocase
        $code2 = /<textarea[^>]{0,200}>[^<]{0,2000}Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(][^<]{0,400}(StreamWriter|WriteAllText|\.SaveAs|eval|Execute|Process\s*\.\s*Start)\s*\(/ nocase
    condition:
        uint16(0) != 0x5A4D and $form and any of ($code*)
}
