// Process memory dumps of LSASS (credential theft with procdump, comsvcs.dll MiniDump,
// Task Manager and similar): a Windows minidump (signature MDMP) whose module list names
// lsass.exe as a loaded image. The structural check walks the stream directory to the
// ModuleListStream (type 4) and looks at each module's UTF-16LE name, with fixed loop
// bounds so that a corrupt header cannot make the scan loop for long.

rule lsass_minidump
{
    meta:
        description = "Windows minidump of the LSASS process (module list names lsass.exe): credential theft"
        severity = "critical"
        category = "lsass_dump"
        author = "deadbox"
    strings:
        $lsass = "lsass.exe" wide nocase
    condition:
        uint32(0) == 0x504D444D and $lsass and
        for any i in (0..31) : (
            i < uint32(8) and
            uint32(uint32(12) + i * 12) == 4 and
            with ml = uint32(uint32(12) + i * 12 + 8) : (
                for any j in (0..1023) : (
                    j < uint32(ml) and
                    with name = uint32(ml + 4 + j * 108 + 20) : (
                        uint32(name) >= 18 and uint32(name) < 1024 and
                        $lsass at (name + 4 + uint32(name) - 18)
                    )
                )
            )
        )
}

rule lsass_minidump_mention
{
    meta:
        description = "Windows minidump that mentions lsass.exe somewhere (possibly an LSASS dump with a damaged module list, or a dump of a process that references LSASS)"
        severity = "low"
        category = "lsass_dump"
        author = "deadbox"
    strings:
        $lsass = "lsass.exe" wide nocase
    condition:
        uint32(0) == 0x504D444D and $lsass and not lsass_minidump
}
