#!/usr/bin/env python3
"""Loopback test of the deadbox Turbinia job: a whole Turbinia deployment on this machine.

    python tests/loopback.py --deadbox /path/to/deadbox [--timeout 600]

Starts `redis-server` on a free port, the Turbinia server, two Celery workers and the API
server (all through `deadbox_turbinia.launch`, in a temporary folder, all ended at the end);
submits images made from the repository's fixtures -- raw (MBR, GPT with 4 KiB sectors, bare
NTFS), E01, VHDX, qcow2, one without findings, several with, one corrupt E01 -- one request per
image; waits for every result and checks it against `deadbox scan IMAGE --format jsonl` run by
hand: the saved findings file holds the same findings, the HTML report is saved, the priority is
HIGH exactly when a finding is high or critical, the corrupt image is a failed task whose status
is deadbox's one-line message. Then kills the Celery pool process running a task in the middle
of it (deadbox is wrapped by a script that sleeps first for images named slow-*) and checks the
request still ends: retried to the right result, or reported failed -- never left pending.

Exit code 0 when every check passes, 1 otherwise (each failure printed), 2 on a setup error.
"""

import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from deadbox_turbinia.local import LocalStack  # noqa: E402  pylint: disable=wrong-import-position

REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
FIXTURES = os.path.join(REPO, 'fixtures')
HIGH = 20  # turbinia.workers.Priority.HIGH
SLEEP = 8  # seconds the wrapper sleeps before a slow-* image

failures = []


def say(msg):
  print(msg, flush=True)


def check(cond, what):
  say(('  ok   ' if cond else '  FAIL ') + what)
  if not cond:
    failures.append(what)
  return cond


def run(cmd, **kw):
  return subprocess.run(cmd, check=True, capture_output=True, **kw)


def make_images(work):
  """The evidence: (path, evidence type) pairs, plus the slow image for the kill scenario."""
  images = []

  def copy(name, new):
    dst = os.path.join(work, new)
    shutil.copyfile(os.path.join(FIXTURES, name), dst)
    return dst

  def gunzip(name, new):
    dst = os.path.join(work, new)
    with gzip.open(os.path.join(FIXTURES, name), 'rb') as src, open(dst, 'wb') as out:
      shutil.copyfileobj(src, out)
    return dst

  images.append((copy('ntfs-shells.img', 'shells.img'), 'RawDisk'))  # MBR, findings
  images.append((copy('ntfs-basic.img', 'basic.img'), 'RawDisk'))  # bare NTFS, none
  images.append((copy('disk-gpt4k.img', 'gpt4k.img'), 'RawDisk'))  # GPT, 4 KiB sectors
  images.append((gunzip('ntfs-compiled.img.gz', 'compiled.img'), 'RawDisk'))
  images.append((gunzip('ntfs-usn.img.gz', 'usn.img'), 'RawDisk'))
  shells = images[0][0]
  if shutil.which('qemu-img'):
    for fmt, src in (('vhdx', shells), ('qcow2', os.path.join(FIXTURES, 'disk-mbr.img'))):
      dst = os.path.join(work, f'{os.path.splitext(os.path.basename(src))[0]}.{fmt}')
      run(['qemu-img', 'convert', '-f', 'raw', '-O', fmt, src, dst])
      images.append((dst, 'RawDisk'))
  else:
    say('NOTICE: qemu-img missing: no VHDX/qcow2 images')
  if shutil.which('ewfacquire'):
    target = os.path.join(work, 'compiled-ewf')
    run(['ewfacquire', '-u', '-q', '-d', 'sha1', '-t', target, images[3][0]],
        stdin=subprocess.DEVNULL)
    images.append((target + '.E01', 'EwfDisk'))
  else:
    say('NOTICE: ewfacquire missing: no E01 image')
  broken = os.path.join(work, 'broken.E01')  # EWF signature, then nonsense: unreadable
  with open(broken, 'wb') as fh:
    fh.write(b'EVF\x09\x0d\x0a\xff\x00' + bytes(5000))
  images.append((broken, 'RawDisk'))
  slow = copy('ntfs-shells.img', 'slow-shells.img')
  return images, slow


def wrapper(work, deadbox):
  """deadbox behind a script that sleeps first when the evidence is named slow-*."""
  path = os.path.join(work, 'deadbox-slow-wrapper')
  with open(path, 'w', encoding='utf-8') as fh:
    fh.write(
        '#!/bin/sh\n'
        f'case "$2" in */slow-*) sleep {SLEEP};; esac\n'
        f'exec "{deadbox}" "$@"\n')
  os.chmod(path, 0o755)
  return path


def by_hand(deadbox, image):
  """`deadbox scan IMAGE --format jsonl`: (exit code, parsed findings, last stderr line)."""
  p = subprocess.run([deadbox, 'scan', image, '--format', 'jsonl'], capture_output=True,
                     text=True, check=False)
  rows = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
  err = [l.strip() for l in p.stderr.splitlines() if l.strip()]
  return p.returncode, rows, err[-1] if err else ''


def saved(task, name):
  paths = [p for p in task.get('saved_paths') or [] if os.path.basename(p) == name]
  return paths[-1] if paths else None


def canon(rows):
  return sorted(json.dumps(r, sort_keys=True) for r in rows)


def verify(stack, deadbox, image, status):
  """Checks one request's result against deadbox run by hand."""
  name = os.path.basename(image)
  tasks = stack.deadbox_tasks(status)
  if not check(len(tasks) == 1, f'{name}: one DeadboxTask (got {len(tasks)})'):
    return
  task = tasks[0]
  code, rows, last = by_hand(deadbox, image)
  if code == 2:
    check(task.get('successful') is False, f'{name}: unreadable evidence is a failed task')
    check(task.get('status') == last,
          f'{name}: status is deadbox\'s message ({task.get("status")!r} vs {last!r})')
    return
  check(task.get('successful') is True,
        f'{name}: task successful (status {task.get("status")!r})')
  findings = saved(task, 'deadbox-findings.jsonl')
  report = saved(task, 'deadbox-report.html')
  if not findings and not rows and report:
    # No findings: deadbox writes an empty file, which Turbinia's output manager does not
    # list among the saved paths (it skips empty files); it is in the task's output folder.
    findings = os.path.join(os.path.dirname(report), 'deadbox-findings.jsonl')
  if check(bool(findings) and os.path.exists(findings), f'{name}: findings file saved'):
    with open(findings, 'r', encoding='utf-8') as fh:
      got = [json.loads(l) for l in fh if l.strip()]
    check(got == rows, f'{name}: saved findings identical to deadbox scan by hand '
          f'({len(got)} vs {len(rows)} findings)')
    if got != rows:
      check(canon(got) == canon(rows), f'{name}: same findings in another order')
  if check(bool(report) and os.path.exists(report), f'{name}: HTML report saved'):
    with open(report, 'r', encoding='utf-8', errors='replace') as fh:
      check('<html' in fh.read(4096).lower(), f'{name}: report is HTML')
  serious = any(r.get('severity') in ('high', 'critical') for r in rows)
  prio = task.get('report_priority')
  if serious:
    check(prio == HIGH, f'{name}: high/critical findings -> priority HIGH ({prio})')
  else:
    check(prio is not None and prio > HIGH, f'{name}: no high finding -> priority below HIGH ({prio})')
  counts = {s: sum(1 for r in rows if r.get('severity') == s)
            for s in ('critical', 'high', 'medium', 'low', 'info')}
  text = task.get('report_data') or ''
  check(all(f'{s}: {n}' in text for s, n in counts.items()),
        f'{name}: report text has the counts by severity {counts}')
  verdict = 'findings of severity medium or above' if code == 1 else 'nothing of severity'
  check(verdict in text, f'{name}: report text has the verdict ({verdict})')


def pool_child_running(stack, image):
  """The Celery pool process whose child runs deadbox (or its wrapper) on `image`."""
  import psutil  # pylint: disable=import-outside-toplevel
  workers = {p.pid for n, p in stack.procs.items() if n.startswith('worker')}
  for proc in psutil.process_iter(['pid', 'cmdline']):
    cmd = proc.info['cmdline'] or []
    if image not in cmd:
      continue
    try:
      parent = proc.parent()
      while parent is not None and parent.ppid() not in workers:
        parent = parent.parent()
    except psutil.NoSuchProcess:
      continue
    if parent is not None and 'deadbox_turbinia.launch' in ' '.join(parent.cmdline()):
      return parent, proc
  return None, None


def kill_scenario(stack, deadbox, slow, deadline):
  say(f'kill scenario: {os.path.basename(slow)} (the wrapper sleeps {SLEEP}s before deadbox)')
  rid = stack.submit(slow)
  child = None
  while time.time() < deadline and child is None:
    child, running = pool_child_running(stack, slow)
    if child is None:
      time.sleep(0.2)
  if not check(child is not None, 'found the Celery pool process running the task'):
    return
  time.sleep(1)
  say(f'  killing Celery pool process {child.pid} (running {running.pid}: '
      f'{" ".join(running.cmdline()[:3])} ...) with SIGKILL')
  os.kill(child.pid, signal.SIGKILL)
  t0 = time.time()
  try:
    status = stack.wait([rid], max(10, deadline - time.time()))[rid]
  except TimeoutError:
    check(False, 'request with a killed worker process ended (it stayed pending)')
    return
  task = stack.deadbox_tasks(status)[0]
  say(f'  request ended {time.time() - t0:.1f}s after the kill: task '
      f'{"successful" if task.get("successful") else "failed"}: {task.get("status")}')
  attempts = sorted(d for d in os.listdir(os.path.join(stack.output_dir, rid))
                    if d.endswith('-DeadboxTask'))
  say(f'  task folders of the request: {attempts}')
  for name in stack.procs:
    if name.startswith('worker'):
      for line in stack.tail(name, 400).splitlines():
        if 'WorkerLost' in line or 'signal 9' in line or 'exited prematurely' in line:
          say(f'  {name}: {line.strip()[:200]}')
  if task.get('successful'):
    verify(stack, deadbox, slow, status)
  else:
    check(bool(task.get('status')), 'killed task reported failed with a status')


def main():
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--deadbox', required=True, help='the deadbox binary')
  ap.add_argument('--timeout', type=int, default=600, help='overall limit in seconds')
  ap.add_argument('--keep', action='store_true', help='keep the temporary folder')
  args = ap.parse_args()
  deadbox = os.path.abspath(args.deadbox)
  if not os.access(deadbox, os.X_OK):
    say(f'error: {deadbox} is not executable')
    return 2
  start = time.time()
  deadline = start + args.timeout - 20

  def on_alarm(*_):
    raise TimeoutError(f'loopback test exceeded {args.timeout}s')

  signal.signal(signal.SIGALRM, on_alarm)
  signal.alarm(args.timeout)
  work = tempfile.mkdtemp(prefix='deadbox-turbinia-loopback-', dir='/var/tmp')
  stack = None
  try:
    images, slow = make_images(work)
    say(f'images in {work}: ' + ', '.join(os.path.basename(i) for i, _ in images))
    stack = LocalStack(workers=2, deadbox_bin=wrapper(work, deadbox),
                       root=os.path.join(work, 'turbinia'), log=say)
    stack.start()
    say(f'stack up in {time.time() - start:.1f}s (redis :{stack.redis_port}, '
        f'API :{stack.api_port})')
    ids = {}
    for image, kind in images:
      ids[stack.submit(image, evidence_type=kind)] = image
    say(f'submitted {len(ids)} requests (one per image)')
    results = stack.wait(list(ids), max(10, deadline - time.time()))
    say(f'all {len(results)} requests ended {time.time() - start:.1f}s after start')
    for rid, status in results.items():
      image = ids[rid]
      say(f'{os.path.basename(image)}: request {rid} {status.get("status")}')
      verify(stack, deadbox, image, status)
    report = stack.report(next(iter(results)))
    check(isinstance(report, str) and 'DeadboxTask' in report,
          'request report (markdown) names DeadboxTask')
    kill_scenario(stack, deadbox, slow, deadline)
  except Exception as exc:  # pylint: disable=broad-except
    failures.append(f'{type(exc).__name__}: {exc}')
    say(f'FAIL {type(exc).__name__}: {exc}')
    if stack:
      for name in stack.procs:
        say(f'--- {name} log (tail) ---\n{stack.tail(name, 15)}')
  finally:
    signal.alarm(0)
    if stack:
      stack.stop()
      say('stopped redis, server, workers and API server')
    if args.keep:
      say(f'kept {work}')
    else:
      shutil.rmtree(work, ignore_errors=True)
  took = time.time() - start
  if failures:
    say(f'loopback: {len(failures)} failure(s) in {took:.0f}s:')
    for f in failures:
      say(f'  - {f}')
    return 1
  say(f'loopback: all checks passed in {took:.0f}s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
