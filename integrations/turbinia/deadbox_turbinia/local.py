"""A whole Turbinia deployment on one machine (Celery + Redis, local storage), for tests and
measurements: a private `redis-server`, the Turbinia server, N celery workers and the API server,
all started through `deadbox_turbinia.launch` in a temporary folder, all stopped by `stop()`.

    with LocalStack(workers=2, deadbox_bin='/usr/local/bin/deadbox') as stack:
        rid = stack.submit('/evidence/host1.E01')
        status = stack.wait(rid, timeout=600)

Not used by a real deployment, whose config is written by hand (see README.md).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

JOB_TIMEOUT = 3600
DONE_STATES = ('successful', 'completed_with_errors', 'failed')


def free_port():
  """A TCP port free on 127.0.0.1 right now."""
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def template_path():
  """Turbinia's own config template, the base of every config written here."""
  # pylint: disable=import-outside-toplevel
  import turbinia.config
  return os.path.join(
      os.path.dirname(turbinia.config.__file__), 'turbinia_config_tmpl.py')


def write_config(
    path, base, redis_port, api_port, instance_id, deadbox_bin=None,
    job_timeout=JOB_TIMEOUT):
  """Writes a Turbinia config: the template, then the local settings after it.

  Args:
    path (str): the file to write (named turbinia.conf).
    base (str): the folder of this process's output, temp, log and lock files.
  """
  for sub in ('tmp', 'log', 'mnt', 'lock'):
    os.makedirs(os.path.join(base, sub), exist_ok=True)
  os.makedirs(os.path.join(os.path.dirname(base), 'output'), exist_ok=True)
  with open(template_path(), 'r', encoding='utf-8') as fh:
    text = fh.read()
  redis = f'redis://127.0.0.1:{redis_port}/0'
  overrides = {
      'INSTANCE_ID': instance_id,
      'CLOUD_PROVIDER': 'Local',
      'TASK_MANAGER': 'Celery',
      'STATE_MANAGER': 'Redis',
      'OUTPUT_DIR': os.path.join(os.path.dirname(base), 'output'),
      'TMP_DIR': os.path.join(base, 'tmp'),
      'LOG_DIR': os.path.join(base, 'log'),
      'LOCK_FILE': os.path.join(base, 'tmp', 'turbinia-worker.lock'),
      'TMP_RESOURCE_DIR': os.path.join(base, 'lock'),
      'RESOURCE_FILE': os.path.join(base, 'lock', 'turbinia-state.json'),
      'RESOURCE_FILE_LOCK': os.path.join(base, 'lock', 'turbinia-state.json.lock'),
      'SCALEDOWN_WORKER_FILE': os.path.join(base, 'tmp', 'turbinia-to-scaledown.lock'),
      'MOUNT_DIR_PREFIX': os.path.join(base, 'mnt'),
      'SLEEP_TIME': 1,
      'SHARED_FILESYSTEM': True,
      'VERSION_CHECK': False,
      'DOCKER_ENABLED': False,
      'API_SERVER_ADDRESS': '127.0.0.1',
      'API_SERVER_PORT': api_port,
      'API_ALLOWED_ORIGINS': [f'http://localhost:{api_port}'],
      'API_EVIDENCE_UPLOAD_DIR': os.path.join(base, 'upload'),
      'REDIS_HOST': '127.0.0.1',
      'REDIS_PORT': str(redis_port),
      'REDIS_DB': '0',
      'CELERY_BROKER': redis,
      'CELERY_BACKEND': redis,
      'KOMBU_BROKER': redis,
      'KOMBU_CHANNEL': f'{instance_id}-kombu',
      'PROMETHEUS_ENABLED': False,
      # Only deadbox's dependency: the other jobs' programs are not installed here, and the
      # worker refuses to start when an enabled job's program is missing.
      'DEPENDENCIES': [{
          'job': 'DeadboxJob',
          'programs': [],
          'docker_image': None,
          'timeout': job_timeout,
      }],
  }
  if deadbox_bin:
    overrides['DEADBOX_PATH'] = deadbox_bin
  text += '\n\n# --- deadbox_turbinia.local overrides ---\n'
  text += ''.join(f'{k} = {v!r}\n' for k, v in overrides.items())
  with open(path, 'w', encoding='utf-8') as fh:
    fh.write(text)
  return path


class LocalStack:
  """redis-server + Turbinia server + N workers + API server, in a temporary folder."""

  def __init__(
      self, workers=2, deadbox_bin=None, root=None, python=None, env=None,
      job_timeout=JOB_TIMEOUT, log=print):
    self.n_workers = workers
    self.deadbox_bin = deadbox_bin
    self.python = python or sys.executable
    self.extra_env = env or {}
    self.job_timeout = job_timeout
    self.log = log
    self.own_root = root is None
    self.root = root or tempfile.mkdtemp(prefix='deadbox-turbinia-')
    os.makedirs(self.root, exist_ok=True)
    self.redis_port = free_port()
    self.api_port = free_port()
    self.instance_id = f'deadbox-{os.getpid()}-{self.redis_port}'
    self.procs = {}  # name -> Popen
    self.logs = {}

  @property
  def output_dir(self):
    return os.path.join(self.root, 'output')

  def _config(self, role):
    base = os.path.join(self.root, role)
    os.makedirs(base, exist_ok=True)
    return write_config(
        os.path.join(base, 'turbinia.conf'), base, self.redis_port, self.api_port,
        self.instance_id, self.deadbox_bin, self.job_timeout)

  def _spawn(self, name, cmd, env=None):
    logf = open(os.path.join(self.root, f'{name}.log'), 'wb')
    self.logs[name] = logf.name
    # Own session: stop() ends the process and everything it started (celery pool
    # children, uvicorn workers, deadbox) by its process group.
    proc = subprocess.Popen(
        cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        cwd=self.root)
    logf.close()
    self.procs[name] = proc
    self.log(f'started {name} (pid {proc.pid}): {" ".join(cmd)}')
    return proc

  def _launch(self, name, role, command):
    conf = self._config(role)
    env = dict(os.environ)
    env.update(self.extra_env)
    env.pop('TURBINIA_CONFIG_PATH', None)
    if self.deadbox_bin:
      env['DEADBOX_BIN'] = self.deadbox_bin
    if command == 'celeryworker':
      env['DEADBOX_TURBINIA_WORKER_NAME'] = f'{name}@%h'
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env['PYTHONPATH'] = here + os.pathsep + env.get('PYTHONPATH', '')
    return self._spawn(
        name, [self.python, '-m', 'deadbox_turbinia.launch', '-c', conf, command], env)

  def start(self, ready_timeout=120):
    """Starts everything and waits until Redis and the API answer."""
    redis = shutil.which('redis-server')
    if not redis:
      raise RuntimeError('redis-server not found')
    self._spawn(
        'redis', [
            redis, '--port', str(self.redis_port), '--bind', '127.0.0.1', '--save', '',
            '--appendonly', 'no', '--dir', self.root
        ])
    self._wait_port(self.redis_port, ready_timeout, 'redis')
    self._launch('server', 'server', 'server')
    for i in range(1, self.n_workers + 1):
      self._launch(f'worker{i}', f'worker{i}', 'celeryworker')
    self._launch('api', 'api', 'api_server')
    self._wait_api(ready_timeout)
    self._wait_workers(ready_timeout)
    return self

  def __enter__(self):
    return self.start()

  def __exit__(self, *exc):
    self.stop()

  def _check_alive(self):
    for name, proc in self.procs.items():
      if proc.poll() is not None and not name.startswith('_'):
        raise RuntimeError(
            f'{name} exited with {proc.returncode}; log:\n{self.tail(name)}')

  def tail(self, name, lines=40):
    try:
      with open(self.logs[name], 'r', encoding='utf-8', errors='replace') as fh:
        return ''.join(fh.readlines()[-lines:])
    except (KeyError, OSError):
      return ''

  def _wait_port(self, port, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
      self._check_alive()
      try:
        with socket.create_connection(('127.0.0.1', port), timeout=1):
          return
      except OSError:
        time.sleep(0.2)
    raise RuntimeError(f'{what} did not listen on port {port} within {timeout}s')

  def _wait_api(self, timeout):
    end = time.time() + timeout
    while time.time() < end:
      self._check_alive()
      try:
        self.get('/api/config/')
        return
      except (OSError, urllib.error.URLError):
        time.sleep(0.5)
    raise RuntimeError(f'API server not up within {timeout}s:\n{self.tail("api")}')

  def _wait_workers(self, timeout):
    """Waits until every worker's log says celery is ready."""
    end = time.time() + timeout
    while time.time() < end:
      self._check_alive()
      ready = [
          n for n in self.procs
          if n.startswith('worker') and 'ready.' in self.tail(n, 400)
      ]
      if len(ready) == self.n_workers:
        return
      time.sleep(0.5)
    raise RuntimeError('workers not ready within %ds' % timeout)

  # --- the API ---------------------------------------------------------------------------

  def url(self, path):
    return f'http://127.0.0.1:{self.api_port}{path}'

  def get(self, path):
    with urllib.request.urlopen(self.url(path), timeout=30) as r:
      body = r.read()
    try:
      return json.loads(body)
    except ValueError:
      return body.decode('utf-8', 'replace')

  def post(self, path, payload):
    req = urllib.request.Request(
        self.url(path), data=json.dumps(payload).encode(), method='POST',
        headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=30) as r:
      return json.loads(r.read())

  def submit(self, image, name=None, evidence_type='RawDisk'):
    """One request for one image (see README: one evidence per request). Returns its id."""
    payload = {
        'description': 'deadbox triage',
        'evidence': {
            'type': evidence_type,
            'source_path': os.path.abspath(image),
            '_name': name or os.path.basename(image),
        },
        'request_options': {
            'jobs_allowlist': ['DeadboxJob'],
            'requester': 'deadbox-turbinia',
            'reason': 'triage',
        },
    }
    answer = self.post('/api/request/', payload)
    return answer['request_id']

  def status(self, request_id):
    """The request's status dict, or None while the API does not know it yet."""
    try:
      return self.get(f'/api/request/{request_id}')
    except urllib.error.HTTPError as e:
      if e.code == 404:
        return None
      raise

  def deadbox_tasks(self, status):
    return [t for t in (status or {}).get('tasks', []) if t.get('name') == 'DeadboxTask']

  def done(self, status):
    """True when the request and its deadbox task are finished.

    Finished also when the request's status still says `pending` but every one of its tasks
    has a result and its FinalizeRequestTask (which Turbinia runs after all the others) ran:
    Turbinia 20240820 keeps the request's task counters in Redis by read-modify-write, so
    two workers reporting at the same moment can lose an increment (seen here: a request
    with two successful tasks counted as one, `pending` for good).
    """
    if not status:
      return False
    tasks = self.deadbox_tasks(status)
    if not tasks or any(t.get('successful') is None for t in tasks):
      return False
    if status.get('status') in DONE_STATES:
      return True
    every = status.get('tasks') or []
    final = [t for t in every if t.get('name') == 'FinalizeRequestTask']
    return bool(final) and all(t.get('successful') is not None for t in every)

  def wait(self, request_ids, timeout):
    """Waits for every request; returns {id: status}. Raises TimeoutError naming the late."""
    pending = list(request_ids)
    out = {}
    end = time.time() + timeout
    while pending:
      self._check_alive()
      for rid in list(pending):
        st = self.status(rid)
        if self.done(st):
          out[rid] = st
          pending.remove(rid)
      if not pending:
        break
      if time.time() > end:
        raise TimeoutError(f'requests still pending after {timeout}s: {pending}')
      time.sleep(0.5)
    return out

  def report(self, request_id):
    return self.get(f'/api/request/report/{request_id}')

  # --- teardown --------------------------------------------------------------------------

  def stop(self):
    """Ends every process started here (by process group), then removes the temp folder."""
    for name in reversed(list(self.procs)):
      proc = self.procs[name]
      if proc.poll() is None:
        try:
          os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
          pass
    end = time.time() + 15
    for name, proc in self.procs.items():
      try:
        proc.wait(timeout=max(0.1, end - time.time()))
      except subprocess.TimeoutExpired:
        pass
      try:
        os.killpg(proc.pid, signal.SIGKILL)
      except (ProcessLookupError, PermissionError):
        pass
      try:
        proc.wait(timeout=5)
      except subprocess.TimeoutExpired:
        self.log(f'warning: {name} (pid {proc.pid}) did not end')
    self.procs = {}
    if self.own_root and not os.environ.get('DEADBOX_TURBINIA_KEEP'):
      shutil.rmtree(self.root, ignore_errors=True)
