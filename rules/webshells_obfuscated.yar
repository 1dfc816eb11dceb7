// Obfuscated code execution: code hidden in base64 literals, evaluated through the
// ScriptControl engine, or JScript.NET eval() with its security option passed through a
// variable. Many of these are only visible in the normalised form of a script
// (src/scan/normalize.rs), which the scan also hands to every rule: comments removed,
// strings joined, character codes decoded, request values inlined.

rule obfuscated_base64_code_literal
{
    meta:
        description = "Server-side script decoding a base64 literal that holds request access or code execution (eval, Request, cmd.exe, Process, Assembly.Load)"
        severity = "high"
        category = "webshell"
        author = "deadbox"
    strings:
        $dec = "FromBase64String" nocase
        $b1 = "Request.Item" base64
        $b2 = "Request.Form" base64
        $b3 = "Request[" base64
        $b4 = "Request(" base64
        $b5 = "eval(" base64
        $b6 = "\"unsafe\"" base64
        $b7 = "cmd.exe" base64
        $b8 = "ProcessStartInfo" base64
        $b9 = "Request.QueryString" base64
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control|Language)/ nocase
        $ss3 = "IHttpHandler" nocase
        // an inline <% %> block decoding it (atom: FromBase64String)
        $ss4 = /<%[^%]{0,200}FromBase64String/ nocase
    condition:
        uint16(0) != 0x5A4D and $dec and any of ($b*) and any of ($ss*)
}

rule obfuscated_script_control_eval
{
    meta:
        description = "Server-side script creating the MSScriptControl engine and executing code with it (dynamic code evaluation)"
        severity = "high"
        category = "webshell"
        author = "deadbox"
    strings:
        $ctl = "ScriptControl" nocase
        $x1 = /\.ExecuteStatement\s*[\( ]/ nocase
        $x2 = /\.AddCode\s*[\( ]/ nocase
        $x3 = /\.Eval\s*[\( ]/ nocase
        $obj = /CreateObject\s*\(\s*["']MSScriptControl/ nocase
        $req = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
    condition:
        uint16(0) != 0x5A4D and $ctl and $obj and any of ($x*) and $req
}

rule obfuscated_jscript_eval_option_variable
{
    meta:
        description = "Server-side JScript.NET calling eval() with two arguments, the security option passed in a variable (China Chopper with the 'unsafe' option hidden)"
        severity = "high"
        category = "webshell"
        author = "deadbox"
    strings:
        $eval2 = /[^A-Za-z0-9_.]eval\s*\(\s*[A-Za-z_][A-Za-z0-9_]{0,30}\s*,\s*[A-Za-z_][A-Za-z0-9_]{0,30}\s*\)/
        $page = /<%@\s{0,8}(Page|WebHandler|WebService|Control)[^>]{0,200}Language\s*=\s*["']?JScript/ nocase
        $block1 = /<script[^>]{0,100}language\s*=\s*["']?JScript["']?[^>]{0,100}runat\s*=\s*["']?server/ nocase
        $block2 = /<script[^>]{0,100}runat\s*=\s*["']?server["']?[^>]{0,100}language\s*=\s*["']?JScript/ nocase
    condition:
        uint16(0) != 0x5A4D and $eval2 and any of ($page, $block1, $block2)
}

rule obfuscated_jscript_service_eval
{
    meta:
        description = "JScript.NET web service, WCF service or handler calling eval() (its web methods evaluate what the caller sends)"
        severity = "high"
        category = "webshell"
        author = "deadbox"
    strings:
        $dir = /<%@\s{0,8}(WebService|ServiceHost|WebHandler)[^>]{0,200}Language\s*=\s*["']?JScript/ nocase
        $eval = /[^A-Za-z0-9_.]eval\s*\(/
    condition:
        uint16(0) != 0x5A4D and $dir and $eval
}
