#!/usr/bin/env python3
"""Throughput of deadbox under Turbinia: images per hour with 1 and 2 workers on this machine.

    python bench.py --deadbox /path/to/deadbox [--workers 1 2] [--dir /var/tmp/deadbox-turbinia-bench]

Images (made once, cached in --dir): six fixtures of the repository (2-32 MiB NTFS volumes and
disks, several with web shells) and four generated 512 MiB NTFS volumes (`mkntfs` + `ntfscp`,
no mount), each holding a 300 MiB minidump named lsass.dmp (random content of its own seed,
which deadbox hashes and YARA-scans whole) and three web shells, stored as raw, E01
(`ewfacquire`, deflate), VHDX and qcow2 (`qemu-img`).

For each worker count: a fresh local stack (`deadbox_turbinia.local.LocalStack`), the page
cache dropped (when allowed: root), every image submitted at once (one request each), the
wall time from the first submission to the last result. Also measured, for the projection to N
machines on shared storage: `deadbox scan` by hand over the same images one after another
(no Turbinia), the bytes deadbox reads from storage per image (block input of the process,
cold cache), and the read bandwidth of this disk (`dd` of the largest image, cold cache).
Prints a markdown report (also written to --dir/results.md).
"""

import argparse
import gzip
import os
import random
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from deadbox_turbinia.local import LocalStack  # noqa: E402  pylint: disable=wrong-import-position

REPO = os.path.abspath(os.path.join(HERE, '..', '..'))
FIXTURES = os.path.join(REPO, 'fixtures')
MIB = 1 << 20
SHELLS = ('chopper_system_web.aspx', 'errorPage.aspx', 'one1.aspx')


def sh(cmd, **kw):
  return subprocess.run(cmd, check=True, capture_output=True, **kw)


def big_volume(path, seed, dump_mib=300, size_mib=512):
  """A bare NTFS volume with a minidump named lsass.dmp and three web shells."""
  tmp = path + '.part'
  with open(tmp, 'wb') as fh:
    fh.truncate(size_mib * MIB)
  sh(['mkntfs', '-F', '-Q', '-q', '-L', f'BIG{seed}', tmp])
  dump = path + '.dmp'
  rnd = random.Random(seed)
  with open(dump, 'wb') as fh:
    fh.write(b'MDMP\x93\xa7' + bytes(26))
    for _ in range(dump_mib):
      fh.write(rnd.randbytes(MIB))
  sh(['ntfscp', '-f', tmp, dump, 'lsass.dmp'])
  os.remove(dump)
  for name in SHELLS:
    sh(['ntfscp', '-f', tmp, os.path.join(FIXTURES, 'shells', 'src', name), name])
  os.rename(tmp, path)


def make_images(folder):
  """The benchmark's images (cached): a list of paths."""
  os.makedirs(folder, exist_ok=True)
  out = []
  for name in ('ntfs-shells.img', 'ntfs-basic.img', 'disk-gpt4k.img', 'ntfs-compiled.img.gz',
               'ntfs-usn.img.gz', 'ntfs-hostile.img.gz'):
    dst = os.path.join(folder, name[:-3] if name.endswith('.gz') else name)
    if not os.path.exists(dst):
      src = os.path.join(FIXTURES, name)
      opener = gzip.open if name.endswith('.gz') else open
      with opener(src, 'rb') as a, open(dst + '.part', 'wb') as b:
        shutil.copyfileobj(a, b)
      os.rename(dst + '.part', dst)
    out.append(dst)
  for seed, fmt in ((1, 'raw'), (2, 'E01'), (3, 'vhdx'), (4, 'qcow2')):
    raw = os.path.join(folder, f'big-{seed}.img')
    final = raw if fmt == 'raw' else os.path.join(folder, f'big-{seed}.{fmt}')
    if not os.path.exists(final):
      print(f'making {final}', flush=True)
      big_volume(raw, seed)
      if fmt == 'E01':
        target = os.path.join(folder, f'big-{seed}')
        sh(['ewfacquire', '-u', '-q', '-c', 'deflate:fast', '-S', '8GiB', '-t', target, raw],
           stdin=subprocess.DEVNULL)
      elif fmt != 'raw':
        sh(['qemu-img', 'convert', '-f', 'raw', '-O', fmt, raw, final])
      if fmt != 'raw':
        os.remove(raw)
    out.append(final)
  return out


def drop_caches():
  """Drops the page cache (root only); True when it could."""
  try:
    os.sync()
    with open('/proc/sys/vm/drop_caches', 'w', encoding='ascii') as fh:
      fh.write('1\n')
    return True
  except OSError:
    return False


def by_hand(deadbox, images):
  """Runs deadbox scan on each image in turn: (seconds, {image: bytes read from storage})."""
  read = {}
  # Page the binary in first, so that its own 30-odd MiB are not counted as the first image's.
  sh([deadbox, '--version'])
  start = time.time()
  for image in images:
    proc = subprocess.Popen([deadbox, 'scan', image, '--format', 'jsonl', '-q'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
      raise RuntimeError(f'deadbox scan {image} exited with {code}')
    read[image] = usage.ru_inblock * 512
  return time.time() - start, read


def dd_read(path):
  """Read MiB/s of `path` by dd (cold cache when drop_caches works)."""
  drop_caches()
  start = time.time()
  sh(['dd', f'if={path}', 'of=/dev/null', 'bs=4M'])
  return os.path.getsize(path) / MIB / (time.time() - start)


def allocated(path):
  return os.stat(path).st_blocks * 512


def turbinia_run(deadbox, images, workers):
  """Wall seconds from the first submission to the last result with `workers` workers."""
  with LocalStack(workers=workers, deadbox_bin=deadbox, log=lambda m: None) as stack:
    drop_caches()
    start = time.time()
    ids = [stack.submit(i) for i in images]
    results = stack.wait(ids, 3600)
    took = time.time() - start
  bad = [rid for rid, st in results.items()
         if not all(t.get('successful') for t in stack.deadbox_tasks(st))]
  if bad:
    raise RuntimeError(f'requests with a failed deadbox task: {bad}')
  return took


def main():
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--deadbox', required=True)
  ap.add_argument('--workers', type=int, nargs='+', default=[1, 2])
  ap.add_argument('--dir', default='/var/tmp/deadbox-turbinia-bench')
  ap.add_argument('--make-only', action='store_true', help='only make the images')
  ap.add_argument('--repeat', type=int, default=3, help='runs of each kind (median taken)')
  args = ap.parse_args()
  deadbox = os.path.abspath(args.deadbox)
  images = make_images(args.dir)
  if args.make_only:
    print('\n'.join(images))
    return
  total = sum(os.path.getsize(i) for i in images)
  def median(xs):
    return sorted(xs)[len(xs) // 2]

  hand, reads = [], []
  for _ in range(args.repeat):
    cold = drop_caches()
    took, read = by_hand(deadbox, images)
    hand.append(took)
    reads.append(read)
  hand_s = median(hand)
  read = reads[0]
  read_total = sum(read.values())
  # The largest file without holes (the raw volumes are sparse).
  largest = max(images, key=allocated)
  dd = median([dd_read(largest) for _ in range(args.repeat)])
  all_runs = {n: [turbinia_run(deadbox, images, n) for _ in range(args.repeat)]
              for n in args.workers}
  runs = {n: median(v) for n, v in all_runs.items()}

  lines = [
      f'Images: {len(images)} ({total / MIB:.0f} MiB of files; deadbox read '
      f'{read_total / MIB:.0f} MiB of them from storage, {read_total / len(images) / MIB:.0f} '
      f'MiB per image on average), page cache {"dropped before each run" if cold else "warm (not root)"}.',
      '',
      f'Median of {args.repeat} runs each (all runs in brackets).',
      '',
      '| run | wall time | images/hour |',
      '|---|---:|---:|',
      f'| `deadbox scan` by hand, one image after another (no Turbinia) | {hand_s:.1f} s '
      f'({", ".join(f"{x:.1f}" for x in hand)}) | {len(images) / hand_s * 3600:,.0f} |',
  ]
  for n, s in runs.items():
    lines.append(f'| Turbinia, {n} worker{"s" if n > 1 else ""} | {s:.1f} s '
                 f'({", ".join(f"{x:.1f}" for x in all_runs[n])}) | '
                 f'{len(images) / s * 3600:,.0f} |')
  lines += [
      '',
      f'Storage: `dd` read of {os.path.basename(largest)} '
      f'({os.path.getsize(largest) / MIB:.0f} MiB, cold): {dd:,.0f} MiB/s.',
      '',
      '| image | size (MiB) | read by deadbox (MiB) |',
      '|---|---:|---:|',
  ]
  for i in images:
    lines.append(f'| {os.path.basename(i)} | {os.path.getsize(i) / MIB:.1f} | '
                 f'{read[i] / MIB:.1f} |')
  best = min(runs.values())
  per_machine = len(images) / best * 3600
  per_image = read_total / len(images)
  lines += [
      '',
      f'Projection: one machine like this one: {per_machine:,.0f} images/hour of this mix; '
      f'N machines on shared storage: min(N x {per_machine:,.0f}, B x 3600 / '
      f'{per_image / MIB:.0f} MiB) images/hour for a storage read bandwidth of B MiB/s.',
      '',
      '| storage read bandwidth B | storage limit (images/hour) | machines until the storage limits |',
      '|---|---:|---:|',
  ]
  for label, b in ((f'this disk (dd, cold): {dd:,.0f} MiB/s', dd),
                   ('10 GbE NFS: ~1,100 MiB/s', 1100), ('1 GbE NFS: ~110 MiB/s', 110)):
    limit = b * MIB * 3600 / per_image
    lines.append(f'| {label} | {limit:,.0f} | {limit / per_machine:,.1f} |')
  text = '\n'.join(lines)
  print(text)
  with open(os.path.join(args.dir, 'results.md'), 'a', encoding='utf-8') as fh:
    fh.write(time.strftime('\n## %Y-%m-%d %H:%M\n\n') + text + '\n')


if __name__ == '__main__':
  main()
