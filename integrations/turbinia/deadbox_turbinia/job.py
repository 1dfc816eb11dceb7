"""DeadboxJob and DeadboxTask: `deadbox scan` of a disk image as a Turbinia task.

The task runs `deadbox scan EVIDENCE --format jsonl -o FINDINGS --report REPORT` (one pass: the
findings as JSON lines and the HTML report of `deadbox report`) on the evidence's own file:
`REQUIRED_STATES` is empty, so Turbinia neither attaches nor mounts anything; deadbox reads raw,
E01, VHD(X), VMDK and qcow2 images itself (detected by their magic bytes).

- exit 0 (nothing of severity medium or above) and 1 (findings): the task succeeds; the findings
  file and the HTML report are its saved outputs; the report text gives the verdict and the
  counts by severity; a finding of severity high or critical sets the priority to HIGH.
- exit 2 (unreadable evidence, bad rules, bad arguments): the task fails with deadbox's one-line
  message as its status.

The deadbox binary: the config value `DEADBOX_PATH`, else the environment variable
`DEADBOX_BIN`, else `deadbox` on PATH. `DEADBOX_THREADS` (config) or the recipe key `threads`
passes `--threads N` (default: deadbox's, all cores of the worker).
"""

import json
import logging
import os
import shutil

from turbinia import config
from turbinia.evidence import EwfDisk
from turbinia.evidence import RawDisk
from turbinia.evidence import ReportText
from turbinia.jobs import interface
from turbinia.jobs import manager
from turbinia.lib import text_formatter as fmt
from turbinia.workers import Priority
from turbinia.workers import TurbiniaTask

log = logging.getLogger(__name__)

SEVERITIES = ('critical', 'high', 'medium', 'low', 'info')
# How many of the most severe findings the report text lists by title.
TOP_FINDINGS = 10


def deadbox_binary():
  """The deadbox executable: config DEADBOX_PATH, env DEADBOX_BIN, or `deadbox` on PATH.

  Returns:
    str: an absolute path, or None when none of them names an executable file.
  """
  loaded = config.LoadConfig()
  for candidate in (getattr(loaded, 'DEADBOX_PATH', None),
                    os.environ.get('DEADBOX_BIN'), 'deadbox'):
    if not candidate:
      continue
    found = shutil.which(candidate)
    if found:
      return os.path.abspath(found)
  return None


def summarise(findings_path):
  """Counts the findings of a JSON lines file by severity.

  Returns:
    tuple(dict, list): counts by severity (every severity present), and the
        (severity, title, path) of the findings, most severe first.
  """
  counts = dict.fromkeys(SEVERITIES, 0)
  rows = []
  if os.path.exists(findings_path):
    with open(findings_path, 'r', encoding='utf-8') as fh:
      for line in fh:
        if not line.strip():
          continue
        finding = json.loads(line)
        severity = finding.get('severity', 'info')
        counts[severity] = counts.get(severity, 0) + 1
        location = finding.get('location') or {}
        rows.append((severity, finding.get('title', ''), location.get('path')))
  order = {s: i for i, s in enumerate(SEVERITIES)}
  rows.sort(key=lambda r: order.get(r[0], len(SEVERITIES)))
  return counts, rows


def one_line(stderr_path, fallback):
  """deadbox's one-line error message: the last non-empty line of its stderr."""
  if os.path.exists(stderr_path):
    with open(stderr_path, 'r', encoding='utf-8', errors='replace') as fh:
      lines = [l.strip() for l in fh if l.strip()]
    if lines:
      return lines[-1]
  return fallback


def fresh(path):
  """`path`, or `path` with -2, -3, ... before its extension when it exists.

  deadbox never overwrites a file; a task retried in the same second gets the same output
  folder as the attempt before it.
  """
  stem, ext = os.path.splitext(path)
  n = 1
  while os.path.exists(path):
    n += 1
    path = f'{stem}-{n}{ext}'
  return path


class DeadboxTask(TurbiniaTask):
  """Runs `deadbox scan --format jsonl --report` on a disk image."""

  # Nothing to attach or mount: deadbox reads the image (and its container format) itself.
  REQUIRED_STATES = []

  TASK_CONFIG = {
      # --threads N for deadbox; None: deadbox's default (every core of the worker).
      'threads': None,
  }

  def run(self, evidence, result):
    """Scans the evidence with deadbox.

    Args:
      evidence (Evidence): a RawDisk or EwfDisk whose source_path is the image.
      result (TurbiniaTaskResult): the result to fill.

    Returns:
      TurbiniaTaskResult
    """
    binary = deadbox_binary()
    if not binary:
      message = (
          'deadbox not found: set DEADBOX_PATH in the Turbinia config, DEADBOX_BIN in the '
          "worker's environment, or put deadbox on PATH")
      result.close(self, success=False, status=message)
      return result
    image = getattr(evidence, 'local_path', None) or evidence.source_path
    findings = fresh(os.path.join(self.output_dir, 'deadbox-findings.jsonl'))
    report = fresh(os.path.join(self.output_dir, 'deadbox-report.html'))
    stderr_file = fresh(os.path.join(self.output_dir, 'deadbox-stderr.txt'))

    cmd = [binary, 'scan', image, '--format', 'jsonl', '-o', findings, '--report', report]
    threads = (self.task_config or {}).get('threads') or getattr(
        config.LoadConfig(), 'DEADBOX_THREADS', None)
    if threads:
      cmd.extend(['--threads', str(int(threads))])
    result.log(f'Running deadbox as [{cmd!s}]')
    ret, result = self.execute(
        cmd, result, stderr_file=stderr_file, success_codes=[0, 1])

    if ret not in (0, 1):
      if ret == 2:
        status = one_line(stderr_file, 'deadbox exited with code 2')
      else:
        status = one_line(
            stderr_file, '') or f'deadbox exited with code {ret} (killed?)'
        status = f'deadbox exited with code {ret}: {status}'
      result.log(status, level=logging.ERROR)
      result.close(self, success=False, status=status)
      return result

    # Saved outputs: only files that exist (execute's save_files would fail on a missing one).
    for path in (findings, report):
      if os.path.exists(path):
        self.output_manager.save_local_file(path, result)
      else:
        result.log(f'deadbox did not write {path}', level=logging.WARNING)

    counts, rows = summarise(findings)
    total = sum(counts.values())
    serious = counts['critical'] + counts['high']
    name = os.path.basename(image)
    if ret == 1:
      verdict = 'findings of severity medium or above'
    else:
      verdict = 'nothing of severity medium or above'
    summary = (
        f'deadbox: {verdict} in {name} ({total} finding(s): ' +
        ', '.join(f'{counts[s]} {s}' for s in SEVERITIES) + ')')
    lines = [fmt.heading4(fmt.bold(summary))]
    lines.append(fmt.bullet(f'Verdict: {verdict} (deadbox exit code {ret})'))
    lines.append(fmt.bullet('Findings by severity:'))
    for s in SEVERITIES:
      lines.append(fmt.bullet(f'{s}: {counts[s]}', level=2))
    shown = [r for r in rows if r[0] in ('critical', 'high', 'medium')][:TOP_FINDINGS]
    if shown:
      lines.append(fmt.bullet(f'Most severe ({len(shown)} of {total}):'))
      for severity, title, path in shown:
        where = f' ({path})' if path else ''
        lines.append(fmt.bullet(f'[{severity}] {title}{where}', level=2))
    lines.append(
        fmt.bullet(
            'Saved: ' + os.path.basename(findings) + ' (findings, JSON lines), ' +
            os.path.basename(report) + ' (HTML report)'))
    result.report_data = '\n'.join(lines)
    if serious:
      result.report_priority = Priority.HIGH
    elif ret == 1:
      result.report_priority = Priority.MEDIUM
    else:
      result.report_priority = Priority.LOW

    result.close(self, success=True, status=summary)
    return result


class DeadboxJob(interface.TurbiniaJob):
  """deadbox triage of disk images (raw and the container formats deadbox reads)."""

  evidence_input = [RawDisk, EwfDisk]
  evidence_output = [ReportText]

  NAME = 'DeadboxJob'

  def create_tasks(self, evidence):
    """One DeadboxTask per evidence object."""
    return [DeadboxTask() for _ in evidence]


def register():
  """Registers DeadboxJob with Turbinia's JobsManager (once), as Turbinia's own job modules do."""
  if DeadboxJob.NAME.lower() not in manager.JobsManager.GetJobNames():
    manager.JobsManager.RegisterJob(DeadboxJob)


register()
