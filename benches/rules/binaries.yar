// Benchmark rule set R: binary and dump rules.

rule R05_mz_header
{
    meta:
        description = "PE file (MZ header at offset 0)"
    condition:
        uint16(0) == 0x5A4D
}

rule R06_minidump_lsass
{
    strings:
        $lsass = "lsass.exe" wide nocase
    condition:
        uint32(0) == 0x504D444D and $lsass
}

rule R07_hex_pattern
{
    meta:
        description = "x64 syscall stub with jumps and wildcards"
    strings:
        $stub = { 4C 8B D1 B8 ?? ?? 00 00 F6 04 25 08 03 FE 7F 01 }
        $jmp = { E8 ?? ?? ?? ?? [2-6] 48 8B 0D ?? ?? ?? ?? }
    condition:
        $stub or #jmp > 3
}

rule R08_mimikatz_strings
{
    strings:
        $a = "sekurlsa::logonpasswords" nocase ascii wide
        $b = "privilege::debug" nocase ascii wide
        $c = "gentilkiwi" ascii wide
    condition:
        any of them
}
