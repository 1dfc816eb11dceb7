#!/usr/bin/env bash
# deadbox against its peers (TSK fls; an ntfs-3g mount + sha256sum + yara) on the same generated
# volumes, in the same run. Prints a markdown table to stdout and appends it to
# ${DEADBOX_BENCH_DIR:-/var/tmp/deadbox-bench}/results.md. See benches/README.md.
#
#   benches/side_by_side.sh [--deadbox PATH] [--label NAME] [--quick] [--runs N]
#                           [--compute-limit PATH]
#
# Page cache warm (every command is run once untimed first); each figure is the median of
# --runs (default 3; --quick: 1) timed runs; peak RSS of deadbox runs by /usr/bin/time -f %M.
# deadbox `scan` exit 1 (a finding of medium or above) is success; exit 2 is a failure.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
B=${DEADBOX_BENCH_DIR:-/var/tmp/deadbox-bench}
export DEADBOX_BENCH_DIR=$B
DEADBOX=/var/tmp/deadbox-target/release/deadbox
LIMIT=/var/tmp/deadbox-target/release/examples/compute_limit
LABEL=current
RUNS=3
while [ $# -gt 0 ]; do
    case $1 in
        --deadbox) DEADBOX=$2; shift 2 ;;
        --label) LABEL=$2; shift 2 ;;
        --quick) RUNS=1; shift ;;
        --runs) RUNS=$2; shift 2 ;;
        --compute-limit) LIMIT=$2; shift 2 ;;
        -h|--help) sed -n 2,11p "$0"; exit 0 ;;
        *) echo "side_by_side: unknown argument $1" >&2; exit 2 ;;
    esac
done
die() { echo "side_by_side: $*" >&2; exit 2; }
[ -x "$DEADBOX" ] || die "no deadbox binary at $DEADBOX (--deadbox PATH)"
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install time)"
for t in fls ntfs-3g yara sha256sum python3; do command -v $t >/dev/null || die "$t missing"; done
"$here/gen_volumes.sh" >&2 || die "gen_volumes.sh failed"

RULES=$repo/benches/rules
RULEFILES=("$RULES"/*.yar)
W=$B/sbs.$$
mkdir -p "$W"
MNT=$W/mnt
cleanup() { mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"; rm -rf "$W"; }
trap cleanup EXIT
RES=$W/results.tsv
: > "$RES"

# The mount pipeline of the peers: ntfs-3g -o ro, sha256sum of every file, yara -r with R.
peer_pipeline() {
    cat > "$W/peer.sh" <<EOF
set -u
mkdir -p "$MNT"
ntfs-3g -o ro "\$1" "$MNT" || exit 2
find "$MNT" -type f -print0 | xargs -0 -P 2 -n 64 sha256sum > /dev/null; a=\$?
yara -r -p 2 ${RULEFILES[*]@Q} "$MNT" > /dev/null 2> "$W/yara.err"; b=\$?
umount "$MNT"
[ \$a -le 1 ] && [ \$b -le 1 ] || exit 2
EOF
    echo "bash $W/peer.sh"
}

# measure KEY IMG TOOL CMD...: warm-up run, then $RUNS timed runs; appends
# KEY \t IMG \t TOOL \t CMD \t seconds,... \t peakKiB,... \t status to $RES.
measure() {
    local key=$1 img=$2 tool=$3; shift 3
    local cmd="$*" times=() rss=() st=ok t0 t1 rc i
    echo "[$(date -u +%T)] $key: $cmd" >&2
    bash -c "$cmd" > /dev/null 2> "$W/err"; rc=$?
    if [ $rc -ge 2 ]; then st="exit $rc: $(head -c 200 "$W/err" | tr '\t\n' '  ')"; fi
    for ((i = 0; i < RUNS; i++)); do
        [ "$st" = ok ] || break
        t0=$(date +%s.%N)
        /usr/bin/time -f %M -o "$W/rss" bash -c "exec $cmd" > /dev/null 2> "$W/err"; rc=$?
        t1=$(date +%s.%N)
        [ $rc -ge 2 ] && { st="exit $rc: $(head -c 200 "$W/err" | tr '\t\n' '  ')"; break; }
        times+=("$(echo "$t1 - $t0" | bc)")
        rss+=("$(tail -1 "$W/rss")")
    done
    local IFS=,
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$img" "$tool" "$cmd" "${times[*]}" "${rss[*]}" "$st" >> "$RES"
}

command -v bc >/dev/null || die "bc missing (apt-get install bc)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "[$(date -u +%T)] compute_limit" >&2
if [ -x "$LIMIT" ]; then
    "$LIMIT" "$RULES" > "$W/limit_R.txt" 2>&1 || echo "compute_limit failed (rules R)" >&2
    "$LIMIT" "$repo/rules" > "$W/limit_pack.txt" 2>&1 || echo "compute_limit failed (built-in pack)" >&2
else
    echo "no compute_limit at $LIMIT: build it with CARGO_TARGET_DIR=/var/tmp/deadbox-target cargo build --release --example compute_limit" >&2
    : > "$W/limit_R.txt"; : > "$W/limit_pack.txt"
fi

# Volume facts: MFT record count and bytes of the streams (non-directory rows, not $BadClus:$Bad).
for v in many mixed; do
    "$DEADBOX" info --format jsonl "$B/$v.img" > "$W/$v.info" 2>&1
    "$DEADBOX" ls --format jsonl "$B/$v.img" 2> /dev/null | python3 -c '
import json, sys
n = b = 0
for line in sys.stdin:
    r = json.loads(line)
    if r.get("is_dir") or (r.get("path") == "/$BadClus" and r.get("stream") == "$Bad"):
        continue
    n += 1; b += r.get("size") or 0
print(n, b)' > "$W/$v.bytes"
done

D=$DEADBOX
for v in many mixed; do
    I=$B/$v.img
    measure "ls" $v deadbox "$D ls --format jsonl $I"
    measure "ls" $v fls "fls -r -p $I"
    measure "ls first row" $v deadbox "$D ls --format jsonl $I | head -1"
done
# The super-timeline of the MFT: TSK's fls -m piped into mactime (its sorted text) beside
# deadbox's sorted CSV (no scan: the MFT, and the USN journal and snapshots the volume has),
# the streamed bodyfile beside fls -m, and deadbox's default (the scan's findings merged in).
I=$B/many.img
measure "timeline sorted (MFT)" many deadbox "$D timeline --format csv --no-scan -q $I"
measure "timeline sorted (MFT)" many "fls -m + mactime" "fls -r -m / $I | mactime -b - -d -y"
measure "bodyfile" many deadbox "$D timeline --format bodyfile -q $I"
measure "bodyfile" many "fls -m" "fls -r -m / $I"
measure "timeline + scan" many deadbox "$D timeline --format jsonl -q $I"
measure "report (scan + timeline window)" many deadbox "bash -c 'rm -f $W/r.html && $D report -q -o $W/r.html $I'"
I=$B/mixed.img
measure "scan R + sha256" mixed deadbox "$D scan --all-files --hashes sha256 --no-builtin-rules --rules $RULES --format jsonl $I"
measure "scan R + sha256" mixed "ntfs-3g+sha256sum+yara" "$(peer_pipeline) $I"
measure "hash (md5+sha1+sha256)" mixed deadbox "$D hash --format jsonl $I"
measure "scan default" mixed deadbox "$D scan --all-files --format jsonl $I"
for c in E01 vhdx qcow2; do
    measure "scan default" "mixed.$c" deadbox "$D scan --all-files --format jsonl $B/mixed.$c"
done

{
    echo
    echo "### side_by_side: $LABEL ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "deadbox \`$DEADBOX\` ($(stat -c %y "$DEADBOX" | cut -d. -f1)); load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $RUNS timed run(s) per figure, median, page cache warm."
    echo
    python3 - "$RES" "$W" <<'EOF'
import json, statistics, sys
res, w = sys.argv[1], sys.argv[2]
def kv(path):
    d = {}
    for line in open(path, errors="replace"):
        if "=" in line and not line.startswith("#"):
            k, v = line.strip().split("=", 1)
            try: d[k] = float(v)
            except ValueError: pass
    return d
limR, limP = kv(f"{w}/limit_R.txt"), kv(f"{w}/limit_pack.txt")
vol = {}
for v in ("many", "mixed"):
    rec = None
    for line in open(f"{w}/{v}.info", errors="replace"):
        try: j = json.loads(line)
        except ValueError: continue
        def find(o):
            if isinstance(o, dict):
                if "record_count" in o: return o["record_count"]
                for x in o.values():
                    r = find(x)
                    if r is not None: return r
            if isinstance(o, list):
                for x in o:
                    r = find(x)
                    if r is not None: return r
        rec = rec or find(j)
    try: n, b = map(int, open(f"{w}/{v}.bytes").read().split())
    except ValueError: n, b = None, None
    vol[v] = {"records": rec, "streams": n, "bytes": b}
vol["mixed.E01"] = vol["mixed.vhdx"] = vol["mixed.qcow2"] = vol["mixed"]
rows = []
for line in open(res):
    key, img, tool, cmd, times, rss, st = line.rstrip("\n").split("\t")
    t = [float(x) for x in times.split(",") if x]
    m = [int(x) for x in rss.split(",") if x]
    rows.append(dict(key=key, img=img, tool=tool, cmd=cmd, t=statistics.median(t) if t else None,
                     lo=min(t) if t else None, hi=max(t) if t else None, rss=max(m) if m else None, st=st))
def find(key, img, tool):
    return next((r for r in rows if r["key"] == key and r["img"] == img and r["tool"] == tool), None)
lim = {"scan R + sha256": ("sha256_yara_mib_s_total", limR, "SHA-256+YARA(R)"),
       "hash (md5+sha1+sha256)": ("hash3_mib_s_total", limR, "MD5+SHA-1+SHA-256"),
       "scan default": ("hash3_yara_mib_s_total", limP, "3 hashes+YARA(pack)")}
print("| figure | image | tool | median s (min–max) | peak RSS MiB | throughput | % of compute limit (all cores) | peer s / deadbox s; or s / raw s |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    if r["t"] is None:
        print(f"| {r['key']} | {r['img']} | {r['tool']} | FAILED: {r['st']} | | | | |")
        continue
    v = vol.get(r["img"], {})
    span = f"{r['t']:.2f} ({r['lo']:.2f}–{r['hi']:.2f})" if r["hi"] != r["lo"] else f"{r['t']:.2f}"
    rss = f"{r['rss'] / 1024:.0f}" if r["rss"] and r["tool"] == "deadbox" else "–"
    thr = pct = cmp = "–"
    per_record = ("ls", "timeline sorted", "bodyfile")
    if r["key"] in ("ls", "bodyfile") or r["key"].startswith("timeline sorted"):
        if v.get("records"):
            thr = f"{v['records'] / r['t'] / 1000:.0f} k records/s"
    elif not r["key"].startswith(per_record) and v.get("bytes"):
        mib_s = v["bytes"] / 1048576 / r["t"]
        thr = f"{mib_s:.0f} MiB/s"
        k, table, what = lim.get(r["key"], (None, {}, ""))
        if k in table and table[k] > 0:
            pct = f"{100 * mib_s / table[k]:.0f} % of {what} {table[k]:.0f} MiB/s"
    if r["tool"] == "deadbox":
        if r["img"].startswith("mixed.") :
            raw = find(r["key"], "mixed", "deadbox")
            if raw and raw["t"]:
                cmp = f"{r['t'] / raw['t']:.2f} × raw"
        else:
            peer = next((p for p in rows if p["key"] == r["key"] and p["img"] == r["img"] and p["tool"] != "deadbox"), None)
            if peer and peer["t"]:
                cmp = f"{peer['t'] / r['t']:.2f} ({peer['tool']})"
            ls = find("ls", r["img"], "deadbox")
            if r["key"] != "ls" and not r["key"].startswith("ls ") and ls and ls["t"] and r["key"].startswith(("timeline", "bodyfile", "report")):
                cmp = ("" if cmp == "–" else cmp + "; ") + f"{r['t'] / ls['t']:.2f} × deadbox ls"
    print(f"| {r['key']} | {r['img']} | {r['tool']} | {span} | {rss} | {thr} | {pct} | {cmp} |")
print()
for v in ("many", "mixed"):
    x = vol[v]
    gb = f"{x['bytes'] / 1e9:.2f}" if x["bytes"] else "?"
    print(f"- {v}.img: {x['records']} MFT records, {x['streams']} non-directory streams, {gb} GB in them (the bytes behind MiB/s).")
for name, d in (("R (benches/rules)", limR), ("built-in pack (rules/)", limP)):
    if d:
        print(f"- compute_limit, {name}: " + ", ".join(f"{k}={v:g}" for k, v in d.items()))
print("- commands: " + "; ".join(sorted({f"`{r['cmd']}`" for r in rows if r['img'] == 'mixed' and r['key'] == 'scan R + sha256'})))
EOF
} | tee -a "$B/results.md"
