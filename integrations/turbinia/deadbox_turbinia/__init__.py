"""deadbox as a Turbinia job.

`deadbox_turbinia.job` holds `DeadboxJob` and `DeadboxTask`; `deadbox_turbinia.launch` starts
`turbiniactl` (server, celeryworker, api_server) with them registered; `deadbox_turbinia.local`
writes a local Celery + Redis config and runs a whole stack on one machine (tests, benchmark).
"""

__version__ = '0.1.0'
