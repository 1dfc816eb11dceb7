#!/usr/bin/env bash
# Speed of each rule of the built-in pack (rules/*.yar), one rule at a time, on 64 MiB of
# (1) plain system/log words, many of them rule atoms ("request", "process", "string", …),
# (2) real benign ASP.NET markup from ../shared/corpus (keyword-dense), (3) random bytes;
# then the whole pack. Prints a markdown table, slowest rule first. See benches/README.md.
#
#   benches/rule_speed.sh [--deadbox PATH]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
DEADBOX=/var/tmp/deadbox-target/release/deadbox
[ "${1:-}" = --deadbox ] && DEADBOX=$2
[ -x "$DEADBOX" ] || { echo "rule_speed: no deadbox binary at $DEADBOX" >&2; exit 2; }
W=${DEADBOX_BENCH_DIR:-/var/tmp/deadbox-bench}/rule_speed
mkdir -p "$W/rules"
size=$((64 << 20))

python3 - "$W" "$size" "$repo" <<'EOF'
import os, random, re, sys, glob
w, size, repo = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = random.Random(1)
words = ("system windows server microsoft update config service runtime data client host request "
         "value error string public class return module session mailbox policy registry security "
         "driver network storage process thread memory buffer cache index record stream").split()
out, n = [], 0
while n < size:
    s = r.choice(words); out.append(s); out.append("\n" if r.random() < 1 / 16 else " "); n += len(s) + 1
open(os.path.join(w, "words.txt"), "w").write("".join(out)[:size])
pages = b""
for d in ("benign-aspx", "benign-more"):
    for f in sorted(glob.glob(os.path.join(repo, "..", "shared", "corpus", d, "*"))):
        pages += open(f, "rb").read()
if pages:
    open(os.path.join(w, "markup.txt"), "wb").write((pages * (size // len(pages) + 1))[:size])
open(os.path.join(w, "random.bin"), "wb").write(r.randbytes(size))
# One file per rule, with the imports/comments head of its file.
for f in glob.glob(os.path.join(repo, "rules", "*.yar")):
    s = open(f).read()
    parts = re.split(r"(?m)^(?=(?:private\s+|global\s+)*rule\s)", s)
    for p in parts[1:]:
        name = re.match(r"(?:\w+\s+)*rule\s+(\w+)", p).group(1)
        open(os.path.join(w, "rules", name + ".yar"), "w").write(parts[0] + p)
EOF

inputs=(words.txt markup.txt random.bin)
# Seconds (best of 3) for scanning INPUT with RULES (one file or the pack).
secs() {
    local best=999 t
    for _ in 1 2 3; do
        /usr/bin/time -o "$W/t" -f %e "$DEADBOX" scan --no-exchange --hashes none --format jsonl \
            "${@:2}" "$W/$1" > /dev/null 2>&1 || [ $? -eq 1 ]
        t=$(cat "$W/t" | tail -n 1)
        best=$(python3 -c "print(min($best, $t))")
    done
    echo "$best"
}
mib() { python3 -c "print(f'{64 / max($1, 0.005):.0f}')"; }
{
    echo "| rule | $(printf '%s MiB/s | ' "${inputs[@]}")"
    echo "|---|---|---|---|"
    for r in "$W"/rules/*.yar; do
        row="| $(basename "$r" .yar) |"
        for i in "${inputs[@]}"; do
            [ -f "$W/$i" ] || { row="$row – |"; continue; }
            row="$row $(mib "$(secs "$i" --no-builtin-rules --rules "$r")") |"
        done
        echo "$row"
    done | sort -t'|' -k3 -n
    row="| **whole pack** |"
    for i in "${inputs[@]}"; do
        [ -f "$W/$i" ] || { row="$row – |"; continue; }
        row="$row $(mib "$(secs "$i")") |"
    done
    echo "$row"
}
echo
echo "One thread per scan; 64 MiB per input; MiB/s include process start (~0.03 s)."
