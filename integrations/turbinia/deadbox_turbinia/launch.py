"""`turbiniactl` with DeadboxJob registered: `python -m deadbox_turbinia.launch -c CONF COMMAND`.

Turbinia has no plugin mechanism: its jobs register themselves when `turbinia.jobs` imports
their modules (`manager.JobsManager.RegisterJob(...)` at the bottom of each), and workers
turn a task name back into a task object through the fixed list in
`turbinia.task_utils.TaskLoader`. This launcher does both for deadbox before handing over to
`turbiniactl`'s own `main()`, so the server, every worker and the API server must be started
through it (`deadbox-turbiniactl` is the same as a console script):

    python -m deadbox_turbinia.launch -c /etc/turbinia/turbinia.conf server
    python -m deadbox_turbinia.launch -c /etc/turbinia/turbinia.conf celeryworker
    python -m deadbox_turbinia.launch -c /etc/turbinia/turbinia.conf api_server

It also makes Celery acknowledge a task only when it has finished (`task_acks_late`) and
requeue it when the worker process running it dies (`task_reject_on_worker_lost`): with
Turbinia's defaults a worker killed in the middle of a task loses the task and its request stays
pending forever. The Redis visibility timeout (after which an unacknowledged task of a vanished
worker is delivered again) is set above the longest job timeout of the config plus Celery's
hard-timeout buffer, so a task still running is never handed out twice; config
`DEADBOX_VISIBILITY_TIMEOUT` overrides it.
"""

import os
import sys
import tempfile

CONFIG_NAMES = ('.turbiniarc', 'turbinia.conf')
# turbinia.task_manager.CELERY_HARD_TIMEOUT_BUFFER, plus a margin.
HARD_TIMEOUT_BUFFER = 240 + 60
DEFAULT_JOB_TIMEOUT = 3600


def _config_file(argv):
  """The value of -c/--config_file in turbiniactl's arguments, or None."""
  for i, arg in enumerate(argv):
    if arg in ('-c', '--config_file') and i + 1 < len(argv):
      return argv[i + 1]
    if arg.startswith('--config_file='):
      return arg.split('=', 1)[1]
  return None


def _export_config_path(config_file):
  """Points TURBINIA_CONFIG_PATH at the config for child processes.

  The API server's uvicorn workers are fresh processes that load the config from the default
  places (or TURBINIA_CONFIG_PATH), not from -c; Turbinia looks there for `.turbiniarc` or
  `turbinia.conf`, so a config of another name is linked under that name in a new folder.
  """
  config_file = os.path.abspath(config_file)
  folder = os.path.dirname(config_file)
  if os.path.basename(config_file) not in CONFIG_NAMES:
    folder = tempfile.mkdtemp(prefix='deadbox-turbinia-config-')
    os.symlink(config_file, os.path.join(folder, 'turbinia.conf'))
  os.environ['TURBINIA_CONFIG_PATH'] = folder


def visibility_timeout(loaded):
  """Seconds before Redis redelivers an unacknowledged task (see the module docstring)."""
  explicit = getattr(loaded, 'DEADBOX_VISIBILITY_TIMEOUT', None)
  if explicit:
    return int(explicit)
  longest = DEFAULT_JOB_TIMEOUT
  for dep in getattr(loaded, 'DEPENDENCIES', None) or []:
    timeout = dep.get('timeout') if isinstance(dep, dict) else None
    if isinstance(timeout, int):
      longest = max(longest, timeout)
  return longest + HARD_TIMEOUT_BUFFER


def install():
  """Registers DeadboxJob/DeadboxTask and patches Celery's setup. Idempotent."""
  # pylint: disable=import-outside-toplevel
  import turbinia.jobs  # noqa: F401  (registers Turbinia's own jobs first)
  from turbinia import config
  from turbinia import task_utils
  from turbinia import tcelery
  from deadbox_turbinia import job  # registers DeadboxJob at import

  loader = task_utils.TaskLoader
  if getattr(loader, '_deadbox_installed', False):
    return
  if 'DeadboxTask' not in loader.TASK_LIST:
    loader.TASK_LIST.append('DeadboxTask')
  original_get_task = loader.get_task

  def get_task(self, task_name):
    if task_name.lower() == 'deadboxtask':
      return job.DeadboxTask()
    return original_get_task(self, task_name)

  loader.get_task = get_task
  loader._deadbox_installed = True

  original_setup = tcelery.TurbiniaCelery.setup

  def setup(self):
    original_setup(self)
    self.app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        broker_transport_options={
            'visibility_timeout': visibility_timeout(config.LoadConfig())
        },
    )

    # Several workers on one host (tests, benchmarks) need distinct Celery node names.
    node = os.environ.get('DEADBOX_TURBINIA_WORKER_NAME')
    if node:
      original_start = self.app.start

      def start(argv=None):
        return original_start(list(argv or []) + ['-n', node])

      self.app.start = start

  tcelery.TurbiniaCelery.setup = setup


def main(argv=None):
  """Installs the deadbox job, then runs turbiniactl with the given arguments."""
  argv = list(sys.argv[1:] if argv is None else argv)
  config_file = _config_file(argv)
  if config_file:
    _export_config_path(config_file)
    # pylint: disable=import-outside-toplevel
    from turbinia import config
    config.LoadConfig(config_file=config_file)
  install()
  # pylint: disable=import-outside-toplevel
  from turbinia import turbiniactl
  sys.argv = ['turbiniactl'] + argv
  turbiniactl.main()


if __name__ == '__main__':
  main()
