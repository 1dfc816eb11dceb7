#!/usr/bin/env bash
# Generates the big NTFS benchmark volumes under ${DEADBOX_BENCH_DIR:-/var/tmp/deadbox-bench}:
# many.img (>= 400,000 MFT records), mixed.img (~3.5 GiB of mixed data) and mixed.E01/.vhdx/.qcow2.
# Cached: outputs whose <name>.json stamp exists are kept; --force rebuilds.
# Options (passed on to gen_volumes.py): --force, --only many|mixed|containers (repeatable),
# --many-files N, --mixed-files N, --dir DIR. Needs root (FUSE mount), mkntfs, ntfs-3g,
# ewfacquire, qemu-img, python3.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for t in mkntfs ntfs-3g ewfacquire qemu-img python3; do
    command -v "$t" >/dev/null || { echo "gen_volumes: $t is missing" >&2; exit 2; }
done
if [ "$(id -u)" != 0 ]; then
    echo "gen_volumes: run as root (ntfs-3g FUSE mounts)" >&2
    exit 2
fi
exec python3 "$here/gen_volumes.py" "$@"
