// Benchmark rule set R: regexes with anchored atoms.

rule R09_ssrf_cookie_regex
{
    meta:
        description = "ProxyLogon-style X-BEResource / X-AnonResource-Backend values"
    strings:
        $r = /X-BEResource=[a-z0-9.\-]{1,64}\/[^~\s]{1,64}~1942062522/ nocase
        $s = /X-AnonResource-Backend=[a-z0-9.\-]{1,64}\/ecp\/[a-z]{1,16}\.js/ nocase
    condition:
        any of them
}

rule R10_base64_powershell
{
    strings:
        $r = /powershell(\.exe)? -(e|enc|encodedcommand) [A-Za-z0-9+\/=]{40}/ nocase
        $u = /https?:\/\/[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\/[a-z]{1,8}\.exe/ nocase
    condition:
        any of them
}
