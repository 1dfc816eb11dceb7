// In-memory .NET assembly loaders (Behinder, Godzilla, SharPyShell and similar): request
// data is decoded (base64) or decrypted (AES/Rijndael, often with a key kept in the
// session) and handed to Assembly.Load or a dynamic compiler. Benign pages do not load
// code that arrives in a request.

rule loader_aes_assembly_load
{
    meta:
        description = "ASP.NET page decrypting request data (AES/Rijndael CreateDecryptor) and loading it as an assembly (Behinder/Godzilla-style loader)"
        severity = "critical"
        category = "loader"
        author = "deadbox"
    strings:
        $load1 = /Assembly\]?\s*\.\s*Load\s*\(/ nocase
        $load2 = /GetMethod\s*\(\s*["']Load["']/ nocase
        $load3 = /AppDomain\.CurrentDomain\.Load\s*\(/ nocase
        $dec1 = "CreateDecryptor" nocase
        $dec2 = "TransformFinalBlock" nocase
        $req1 = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
        $req2 = "GetBufferlessInputStream" nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
        $ss4 = "HttpContext" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($load*) and any of ($dec*) and any of ($req*) and any of ($ss*)
}

rule loader_base64_assembly_load
{
    meta:
        description = "ASP.NET page loading base64-decoded data as an assembly next to request input (in-memory loader)"
        severity = "critical"
        category = "loader"
        author = "deadbox"
    strings:
        $direct = /Assembly\]?\s*\.\s*Load\s*\(\s*(System\.)?Convert\.FromBase64String\s*\(/ nocase
        $req1 = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
        $req2 = "GetBufferlessInputStream" nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
        $ss4 = "HttpContext" nocase
    condition:
        uint16(0) != 0x5A4D and $direct and any of ($req*) and any of ($ss*)
}

rule loader_base64_request_assembly_load
{
    meta:
        description = "ASP.NET page that base64-decodes request data and loads an assembly (in-memory loader, decoded value passed through a variable)"
        severity = "high"
        category = "loader"
        author = "deadbox"
    strings:
        $load1 = /Assembly\]?\s*\.\s*Load\s*\(/ nocase
        $load2 = /GetMethod\s*\(\s*["']Load["']/ nocase
        $b64req = /FromBase64String\s*\(\s*[^;]{0,60}Request\s*(\[|\(|\.Form|\.Item|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($load*) and $b64req and any of ($ss*)
}

rule loader_session_assembly_payload
{
    meta:
        description = "ASP.NET page keeping a loaded assembly or key in the session and invoking it on request data (Behinder/Godzilla pattern)"
        severity = "critical"
        category = "loader"
        author = "deadbox"
    strings:
        $inv1 = /CreateInstance\s*\(\s*["'][A-Za-z0-9_]{1,32}["']\s*\)\s*\.\s*Equals\s*\(/ nocase
        $inv2 = /\.Equals\s*\(\s*(this|Context|HttpContext\.Current)\s*\)/
        $load1 = /Assembly\]?\s*\.\s*Load\s*\(/ nocase
        $load2 = /GetMethod\s*\(\s*["']Load["']/ nocase
        $sess = /(Session|Application)\s*(\[|\(|\.Add\s*\()/ nocase
    condition:
        uint16(0) != 0x5A4D and ($inv1 or ($inv2 and any of ($load*) and $sess))
}

rule loader_dynamic_compile_request
{
    meta:
        description = "ASP.NET page compiling source code with CodeDom at run time from request data"
        severity = "high"
        category = "loader"
        author = "deadbox"
    strings:
        $compile = "CompileAssemblyFromSource" nocase
        $script_eval = "CSharpScript.EvaluateAsync" nocase
        $req1 = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService)/ nocase
    condition:
        uint16(0) != 0x5A4D and ($compile or $script_eval) and $req1 and any of ($ss*)
}

rule loader_request_body_assembly_load
{
    meta:
        description = "ASP.NET page loading an assembly and reading the raw request body (in-memory loader fed by POST data)"
        severity = "high"
        category = "loader"
        author = "deadbox"
    strings:
        $load1 = /Assembly\]?\s*\.\s*Load\s*\(/ nocase
        $load2 = /GetMethod\s*\(\s*["']Load["']/ nocase
        $body1 = /Request\s*\.\s*(BinaryRead|InputStream)/ nocase
        $body2 = "GetBufferlessInputStream" nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($load*) and any of ($body*) and any of ($ss*)
}
