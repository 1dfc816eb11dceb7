#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ (not committed).

partitions: a bare NTFS boot sector, MBRs with an extended chain, GPTs with 512- and
4096-byte sectors (valid CRCs), cut from or modelled on the committed fixtures.
record: the 69 records of the small base volume (partition 3 of fixtures/disk-mbr.img), fixups undone, each prefixed with
the byte that selects the record (the target re-applies fixups).
volume: no patch at all, and one patch of each mode.
Standard library only.
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures")


def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(name, off, n):
    with open(os.path.join(FIX, name), "rb") as f:
        f.seek(off)
        return f.read(n)


def mbr_entry(t, lba, cnt):
    return struct.pack("<BBBBBBBBII", 0, 0, 0, 0, t, 0, 0, 0, lba, cnt)


def sector(entries):
    s = bytearray(512)
    for i, e in enumerate(entries):
        s[446 + 16 * i : 462 + 16 * i] = e
    s[510:512] = b"\x55\xaa"
    return bytes(s)


def gpt(ss, entries, disk_lbas):
    arr = b"".join(entries).ljust(128 * len(entries), b"\0")
    arr_lbas = -(-len(arr) // ss)
    disk = bytearray(ss * disk_lbas)
    disk[0:512] = sector([mbr_entry(0xEE, 1, disk_lbas - 1)])

    def header(my, alt, arr_lba):
        h = bytearray(92)
        h[0:8] = b"EFI PART"
        struct.pack_into("<IIIIQQQQ", h, 8, 0x10000, 92, 0, 0, my, alt, 2 + arr_lbas, disk_lbas - 2 - arr_lbas)
        struct.pack_into("<QIII", h, 72, arr_lba, len(entries), 128, zlib.crc32(arr))
        struct.pack_into("<I", h, 16, zlib.crc32(bytes(h)))
        return bytes(h)

    last = disk_lbas - 1
    disk[ss : ss + 92] = header(1, last, 2)
    disk[2 * ss : 2 * ss + len(arr)] = arr
    disk[last * ss : last * ss + 92] = header(last, 1, last - arr_lbas)
    disk[(last - arr_lbas) * ss : (last - arr_lbas) * ss + len(arr)] = arr
    return bytes(disk)


def gpt_entry(first, last, name):
    e = bytearray(128)
    e[0:16] = bytes.fromhex("a2a0d0ebe5b9334487c068b6b72699c7")
    e[16] = 1
    struct.pack_into("<QQ", e, 32, first, last)
    n = name.encode("utf-16-le")
    e[56 : 56 + len(n)] = n
    return bytes(e)


# partitions
out("partitions", "bare-ntfs", read("ntfs-basic.img", 0, 512))
out("partitions", "mbr-fixture", read("disk-mbr.img", 0, 512))
# MBR: primary at 1, extended at 4 with two logicals (EBRs at 4 and 7), 12 sectors in all.
disk = bytearray(512 * 12)
disk[0:512] = sector([mbr_entry(0x07, 1, 2), mbr_entry(0x0F, 4, 8)])
disk[4 * 512 : 5 * 512] = sector([mbr_entry(0x07, 1, 1), mbr_entry(0x05, 3, 4)])
disk[7 * 512 : 8 * 512] = sector([mbr_entry(0x07, 1, 2)])
disk[512 : 512 + 512] = read("ntfs-basic.img", 0, 512)
out("partitions", "mbr-ebr-chain", bytes(disk))
out("partitions", "gpt-512", gpt(512, [gpt_entry(6, 7, "a"), gpt_entry(8, 9, "b")], 16))
out("partitions", "gpt-4096", gpt(4096, [gpt_entry(4, 4, "a")], 6))

# record: the small base volume of the NTFS targets (common.rs: partition 3 of disk-mbr.img)
BASE = 11648 * 512
boot = read("disk-mbr.img", BASE, 512)
bps = struct.unpack_from("<H", boot, 11)[0]
spc = boot[13]
cluster = bps * spc
mft = BASE + struct.unpack_from("<Q", boot, 0x30)[0] * cluster
c = struct.unpack_from("<b", boot, 0x40)[0]
rs = c * cluster if c > 0 else 1 << -c
for k in range(69):
    rec = bytearray(read("disk-mbr.img", mft + k * rs, rs))
    if rec[0:4] != b"FILE":
        continue
    usa_off, usa_count = struct.unpack_from("<HH", rec, 4)
    stride = rs // (usa_count - 1)
    for i in range(usa_count - 1):
        pos = (i + 1) * stride - 2
        rec[pos : pos + 2] = rec[usa_off + 2 + 2 * i : usa_off + 4 + 2 * i]
    out("record", f"entry-{k}", bytes([k]) + bytes(rec))

# volume
out("volume", "none", b"")
out("volume", "boot", bytes([0, 0x0D, 0, 1, 8]))
out("volume", "record-fixed", bytes([1, 0x40, 0x40 | (69 << 10 & 0xFF00) >> 8, 2, 0xFF, 0xFF]))
out("volume", "record-raw", bytes([2, 0x00, 5 << 2, 4]) + b"BAAD")
out("volume", "data", bytes([3, 0x00, 0x02, 4]) + b"\xff\xff\xff\xff")

# ntfs_parsers: the first byte picks the parser (see fuzz_targets/ntfs_parsers.rs).
runs_seeds = [
    bytes([0x11, 0x02, 0x05, 0x00]),  # 2 clusters at LCN 5
    bytes([0x21, 0x10, 0x00, 0x01, 0x01, 0x08, 0x00]),  # 16 at 256, then an 8-cluster hole
    bytes([0x31, 0x40, 0x00, 0x10, 0x00, 0x11, 0x10, 0xF0, 0x00]),  # a negative LCN delta
]
for i, r in enumerate(runs_seeds):
    out("ntfs_parsers", f"runs-{i}", bytes([0]) + r)
basic_boot = read("ntfs-basic.img", 0, 512)
b_cluster = struct.unpack_from("<H", basic_boot, 11)[0] * basic_boot[13]
b_mft = struct.unpack_from("<Q", basic_boot, 0x30)[0] * b_cluster
for k in (0, 5, 64, 68, 76, 89, 90):
    out("ntfs_parsers", f"record-{k}", bytes([1]) + read("ntfs-basic.img", b_mft + k * 1024, 1024))
# An attribute list: 0x20 entries of ($STANDARD_INFORMATION, $FILE_NAME, $DATA) in records 90/91.
al = b""
for t, rec in ((0x10, 90), (0x30, 90), (0x30, 91), (0x80, 90)):
    e = bytearray(32)
    struct.pack_into("<IHBBQQH", e, 0, t, 32, 0, 0x1A, 0, rec | (1 << 48), 0)
    al += bytes(e)
out("ntfs_parsers", "attr-list", bytes([3]) + al)
# The first INDX block of ntfs-basic, for slack carving.
with open(os.path.join(FIX, "ntfs-basic.img"), "rb") as f:
    img = f.read()
indx = next(o for o in range(0, len(img), 4096) if img[o:o + 4] == b"INDX")
out("ntfs_parsers", "indx", bytes([4]) + img[indx:indx + 4096])
# An LZNT1 unit: two chunks of literals (flag byte 0 + 8 literals), then the end.
chunk = b"".join(b"\0" + bytes(range(j, j + 8)) for j in range(0, 64, 8))
lz = struct.pack("<H", 0xB000 | (len(chunk) + 2 - 3)) + chunk
out("ntfs_parsers", "lznt1", bytes([5]) + lz + lz + b"\0\0")

# index: the small base volume's root index (see fuzz_targets/index.rs).
small = read("disk-mbr.img", BASE, 4096 * 512)
root_blk = next(o for o in range(0, len(small), 512) if small[o:o + 4] == b"INDX")
out("index", "block", bytes([0]) + small[root_blk + 0x18:root_blk + 4096])
rec5 = bytearray(small[mft - BASE + 5 * rs:mft - BASE + 6 * rs])
usa_off, usa_count = struct.unpack_from("<HH", rec5, 4)
for i in range(usa_count - 1):
    pos = (i + 1) * (rs // (usa_count - 1)) - 2
    rec5[pos:pos + 2] = rec5[usa_off + 2 + 2 * i:usa_off + 4 + 2 * i]
off = struct.unpack_from("<H", rec5, 20)[0]
while struct.unpack_from("<I", rec5, off)[0] != 0x90:
    off += struct.unpack_from("<I", rec5, off + 4)[0]
val = off + struct.unpack_from("<H", rec5, off + 20)[0]
end = off + struct.unpack_from("<I", rec5, off + 4)[0]
out("index", "root", bytes([1]) + bytes(rec5[val + 0x10:end]))

# usn: the two clusters of records of the $J in fixtures/ntfs-usn.img.gz (the cluster whose
# first record is a v2 record with USN 1 MiB, its offset in $J), and the corpus's real Windows
# journal when the shared corpus is there.
import gzip  # noqa: E402

usn_img = gzip.open(os.path.join(FIX, "ntfs-usn.img.gz")).read()
first = struct.pack("<Q", 1 << 20)  # USN of the first record = its offset in $J
at = next(o for o in range(0, len(usn_img), 4096)
          if usn_img[o + 4:o + 6] == b"\x02\x00" and usn_img[o + 24:o + 32] == first)
out("usn", "fixture_journal", usn_img[at:at + 8192])
real = os.path.join(HERE, "..", "..", "shared", "corpus", "mft", "usnjrnlj.bin")
if os.path.exists(real):
    with open(real, "rb") as f:
        out("usn", "windows_journal", f.read())

# vss: odd first byte, patches [block][offset u16 LE][len][bytes] over the synthetic volume's
# structure blocks (0 header, 1 catalog, 2/3 store A list/bitmap, 4/5 store B list/bitmap); even
# first byte, one block (the type is the first byte / 2 % 7) parsed alone.
out("vss", "intact", bytes([1]))
out("vss", "catalog_loop", bytes([1, 1, 40, 0, 8]) + struct.pack("<Q", 0x4000))
out("vss", "list_far", bytes([1, 2, 40, 0, 8]) + struct.pack("<Q", 1 << 40))
out("vss", "overlay_all", bytes([1, 2, 0xBC, 0, 4]) + struct.pack("<I", 0xFFFFFFFF))
out("vss", "forward_self", bytes([1, 2, 0xC8, 0, 8]) + struct.pack("<Q", 43 * 0x4000))
out("vss", "catalog_block", bytes([4]) + bytes(0x80 - 24) + struct.pack("<Q", 2) * 2)
out("vss", "list_block", bytes([6]) + bytes(0x80 - 24) + struct.pack("<QQQII", 0x4000, 0, 0x8000, 2, 1))

# archives_scripts: first byte 0 zip, 1 7z, 2 RAR, 3 web script, 4 LZMA alone. Zips made here
# (stored and deflate), the 7z files of tests/data/archives (plain, non-solid, many members,
# copied, encrypted headers), a RAR 5 and a RAR 4 signature with one file header, the corpus's
# web shells and benign pages, and the packed LZMA data of plain.7z.
import io  # noqa: E402
import zipfile  # noqa: E402

for method, tag in ((zipfile.ZIP_STORED, "stored"), (zipfile.ZIP_DEFLATED, "deflate")):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        z.writestr("inetpub/wwwroot/aspnet_client/x.aspx", b'<%@ Page Language="C#" %><% eval(Request["a"]); %>')
        z.writestr("lsass.dmp", b"MDMP" + bytes(64))
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w", method) as zi:
            zi.writestr("inner.txt", b"nested")
        z.writestr("inner.zip", inner.getvalue())
    out("archives_scripts", "zip_" + tag, bytes([0]) + b.getvalue())
arch = os.path.join(HERE, "..", "tests", "data", "archives")
for name in sorted(os.listdir(arch)):
    if name.endswith(".7z"):
        with open(os.path.join(arch, name), "rb") as f:
            data = f.read()
        out("archives_scripts", "7z_" + name, bytes([1]) + data)
        if name == "plain.7z":
            # The packed streams start at byte 32: LZMA data, here with the usual properties
            # (lc=3 lp=0 pb=2, 1 MiB dictionary) and 64 bytes asked for.
            out("archives_scripts", "lzma_plain",
                bytes([4]) + b"\x5d\x00\x00\x10\x00" + struct.pack("<H", 64) + data[32:32 + 256])
out("archives_scripts", "rar5", bytes([2]) + b"Rar!\x1a\x07\x01\x00" + bytes([0x33, 0x92, 0xb5, 0xe5, 0x0a, 0x01, 0x05, 0x06, 0x00, 0x05, 0x01, 0x01, 0x80, 0x80, 0x00]))
out("archives_scripts", "rar4", bytes([2]) + b"Rar!\x1a\x07\x00" + bytes([0xcf, 0x90, 0x73, 0, 0x0d, 0, 0, 0, 0, 0, 0, 0]) + bytes([0, 0, 0x74, 0, 0x80, 0x2c, 0]) + bytes(25) + b"lsass.dmp")
corpus = os.path.join(HERE, "..", "..", "shared", "corpus")
for d in ("webshells", "benign-aspx"):
    p = os.path.join(corpus, d)
    if os.path.isdir(p):
        for name in sorted(os.listdir(p))[:40]:
            with open(os.path.join(p, name), "rb") as f:
                out("archives_scripts", f"script_{d}_{name}"[:120], bytes([3]) + f.read(64 << 10))
out("archives_scripts", "script_obfuscated", bytes([3]) + b'<%@ Page Language="Jscript"%><% var k = "ev" + /*x*/ "al"; eval(Request.Item[String.fromCharCode(0x61+1)], "un" + "safe"); %>')

# exchange_logs: first byte % 11 picks the log (0/1 HttpProxy Ecp/Owa, 2 ECP Server, 3 OAB
# generator, 4 IIS, 5 Application.evtx, 6-10 the other event logs). The corpus's event logs
# (68 KiB each: one header and one chunk; the 1 MiB Sysmon log is left out) under each event-log
# kind, its IIS log, and one line of each text log.
ev = os.path.join(corpus, "evtx")
if os.path.isdir(ev):
    for name in sorted(os.listdir(ev)):
        with open(os.path.join(ev, name), "rb") as f:
            data = f.read()
        if len(data) > 256 << 10:
            continue
        for k in range(5, 11):
            out("exchange_logs", f"evtx{k}_{name}", bytes([k]) + data)
iis = os.path.join(corpus, "logs", "Tunna_rdp_tunnel_IIS.log")
if os.path.exists(iis):
    with open(iis, "rb") as f:
        out("exchange_logs", "iis_tunna", bytes([4]) + f.read(16 << 10))
csv = (b"#Fields: DateTime,ServerInfo,AnchorMailbox,UrlStem,ClientIpAddress\r\n"
       b"2021-03-03T04:58:41.123Z,ServerInfo~a]@ex.lab:444/ecp/y.js,"
       b"ServerInfo~a]@ex.lab:444/ecp/y.js,/ecp/y.js,203.0.113.5\r\n")
out("exchange_logs", "httpproxy_ecp", bytes([0]) + csv)
out("exchange_logs", "ecp_server", bytes([2]) + b"#Fields: DateTime,Event\r\n2021-03-03T04:58:41Z,"
    b"Set-OabVirtualDirectory -ExternalUrl 'http://f/<script language=\"JScript\" runat=\"server\">'"
    b" VirtualDirectory\r\n")
out("exchange_logs", "oab", bytes([3]) + b"2021-03-03T04:58:41.123Z,Download failed and temporary "
    b"file 'C:\\inetpub\\wwwroot\\aspnet_client\\x.aspx' needs to be removed\r\n")
