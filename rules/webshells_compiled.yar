// Compiled leftovers of web shells: the page assemblies ASP.NET compiles into
// `Temporary ASP.NET Files/<app>/<hash>/<hash>/App_Web_*.dll` outlive the .aspx they came from.
// An assembly has no source text: the rules read its metadata with the YARA-X `dotnet` module
// (assembly name, references, classes) and the names the compiler keeps in `#Strings` (types
// and members called, each between NUL bytes: "\x00Start\x00") and `#US` (the literals,
// UTF-16). Only compiled pages are considered: an `App_Web_*` assembly, or one defining a class
// in the `ASP` namespace (the compiled page classes), that references System.Web.
//
// A compiled page cannot show where a value flows, so each rule asks for the sink *and* the
// request *and* what makes the sink a shell's (a command interpreter, output sent back, a
// decrypted payload, the server's drives).

import "dotnet"

rule compiled_page_command_shell
{
    meta:
        description = "Compiled ASP.NET page (App_Web_*.dll) that reads the request and starts a command interpreter or sends a process's output back (compiled command web shell)"
        severity = "high"
        category = "cmdshell"
        author = "deadbox"
    strings:
        $ns = "\x00System.Diagnostics\x00"
        $t1 = "\x00ProcessStartInfo\x00"
        $t2 = "\x00Process\x00"
        $start = "\x00Start\x00"
        $r1 = "\x00get_Request\x00"
        $r2 = "\x00get_QueryString\x00"
        $r3 = "\x00get_Form\x00"
        $r4 = "\x00get_Text\x00"
        $sh1 = "cmd.exe" wide nocase
        $sh2 = "powershell" wide nocase
        $sh3 = "/c " wide nocase
        $out = "\x00set_RedirectStandardOutput\x00"
    condition:
        dotnet.is_dotnet and
        (dotnet.assembly.name startswith "App_Web_" or for any c in dotnet.classes : (c.namespace == "ASP")) and
        for any r in dotnet.assembly_refs : (r.name == "System.Web") and
        $ns and any of ($t*) and $start and any of ($r*) and (any of ($sh*) or $out)
}

rule compiled_page_jscript_eval
{
    meta:
        description = "Compiled JScript.NET page (App_Web_*.dll) that calls eval (Microsoft.JScript.Eval.JScriptEvaluate) and reads the request (compiled China Chopper)"
        severity = "high"
        category = "webshell"
        author = "deadbox"
    strings:
        $eval = "\x00JScriptEvaluate\x00"
        $r1 = "\x00get_Request\x00"
        $r2 = "Request" wide
    condition:
        dotnet.is_dotnet and
        (dotnet.assembly.name startswith "App_Web_" or for any c in dotnet.classes : (c.namespace == "ASP")) and
        for any r in dotnet.assembly_refs : (r.name == "Microsoft.JScript") and
        $eval and any of ($r*)
}

rule compiled_page_assembly_loader
{
    meta:
        description = "Compiled ASP.NET page (App_Web_*.dll) that loads an assembly from bytes it decodes or decrypts from the request and instantiates it (compiled in-memory loader: Behinder, Godzilla)"
        severity = "high"
        category = "loader"
        author = "deadbox"
    strings:
        $load = "\x00Load\x00"
        $asm = "\x00Assembly\x00"
        $create = "\x00CreateInstance\x00"
        $dec1 = "\x00TransformFinalBlock\x00"
        $dec2 = "\x00FromBase64String\x00"
        $r1 = "\x00get_InputStream\x00"
        $r2 = "\x00BinaryRead\x00"
        $r3 = "\x00get_Request\x00"
        $r4 = "\x00get_Form\x00"
    condition:
        dotnet.is_dotnet and
        (dotnet.assembly.name startswith "App_Web_" or for any c in dotnet.classes : (c.namespace == "ASP")) and
        for any r in dotnet.assembly_refs : (r.name == "System.Web") and
        $load and $asm and $create and any of ($dec*) and any of ($r*)
}

rule compiled_page_file_manager
{
    meta:
        description = "Compiled ASP.NET page (App_Web_*.dll) that reads the request, enumerates the server's drives, lists folders and deletes or writes files (compiled web file manager)"
        severity = "high"
        category = "filemanager"
        author = "deadbox"
    strings:
        $drv1 = "\x00GetLogicalDrives\x00"
        $drv2 = "\x00GetDrives\x00"
        $list1 = "\x00GetFiles\x00"
        $list2 = "\x00GetDirectories\x00"
        $list3 = "\x00GetFileSystemInfos\x00"
        $chg1 = "\x00Delete\x00"
        $chg2 = "\x00SaveAs\x00"
        $chg3 = "\x00WriteAllBytes\x00"
        $chg4 = "\x00Move\x00"
        $r1 = "\x00get_Request\x00"
        $r2 = "\x00get_QueryString\x00"
        $r3 = "\x00get_Form\x00"
    condition:
        dotnet.is_dotnet and
        (dotnet.assembly.name startswith "App_Web_" or for any c in dotnet.classes : (c.namespace == "ASP")) and
        for any r in dotnet.assembly_refs : (r.name == "System.Web") and
        any of ($drv*) and any of ($list*) and any of ($chg*) and any of ($r*)
}

rule compiled_page_os_procedures
{
    meta:
        description = "Compiled ASP.NET page (App_Web_*.dll) holding SQL Server procedures that reach the operating system (xp_cmdshell, sp_oacreate, sp_makewebtask) or creating WScript.Shell, and reading the request"
        severity = "high"
        category = "database"
        author = "deadbox"
    strings:
        $p1 = "xp_cmdshell" wide nocase
        $p2 = "sp_oacreate" wide nocase
        $p3 = "sp_makewebtask" wide nocase
        $p4 = "WScript.Shell" wide nocase
        $r1 = "\x00get_Request\x00"
        $r2 = "\x00get_QueryString\x00"
        $r3 = "\x00get_Form\x00"
        $r4 = "\x00get_Text\x00"
    condition:
        dotnet.is_dotnet and
        (dotnet.assembly.name startswith "App_Web_" or for any c in dotnet.classes : (c.namespace == "ASP")) and
        for any r in dotnet.assembly_refs : (r.name == "System.Web") and
        any of ($p*) and any of ($r*)
}
