#!/usr/bin/env bash
# Compile the page classes of src/ with Mono's C# compiler (Debian: mono-mcs,
# libmono-system-web4.0-cil) into App_Web_*.dll assemblies as ASP.NET would name them, for
# tests/rule_pack.rs (real compiler output for the compiled-page rules). Run from anywhere;
# the DLLs are committed, so the tests need no compiler.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
build() {
    mcs -nologo -target:library -optimize+ -deterministic -r:System.Web.dll -out:"$2.dll" "src/$1.cs"
}
build cmd App_Web_cmd.aspx.cdcab7d2.mcs00001
build loader App_Web_x.aspx.cdcab7d2.mcs00002
build files App_Web_fm.aspx.cdcab7d2.mcs00003
build benign App_Web_default.aspx.cdcab7d2.mcs00004
build thumbnail App_Web_thumbs.aspx.cdcab7d2.mcs00005
