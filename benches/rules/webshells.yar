// Benchmark rule set R (benches/README.md): ordinary rules of the kind a responder brings.
// They must compile with both the C yara CLI and YARA-X.

rule R01_aspx_eval_request
{
    meta:
        description = "ASPX script that evaluates request data (China Chopper style)"
    strings:
        $eval = "eval(Request" nocase
        $unsafe = "\"unsafe\"" nocase
        $item = "Request.Item[" nocase
    condition:
        $eval and ($unsafe or $item)
}

rule R02_process_start_cmd
{
    meta:
        description = "Server-side script starting cmd.exe / powershell"
    strings:
        $p1 = "Process.Start" ascii wide
        $p2 = "ProcessStartInfo" ascii wide
        $c1 = "cmd.exe" nocase ascii wide
        $c2 = "powershell" nocase ascii wide
    condition:
        any of ($p*) and any of ($c*)
}

rule R03_web_script_exec_keywords
{
    meta:
        description = "Classic web-shell keywords"
    strings:
        $a = "RedirectStandardOutput" ascii
        $b = "UseShellExecute" ascii
        $c = "StandardOutput.ReadToEnd" ascii
        $d = "Server.CreateObject(\"WScript.Shell\")" nocase
    condition:
        2 of them
}

rule R04_jscript_page_eval
{
    strings:
        $page = "<%@ Page Language=\"Jscript\"" nocase
        $eval = /eval\s*\(\s*Request/ nocase
    condition:
        $page or $eval
}
