"""The scheduling runtime: one leader among any number of `runapscheduler` processes runs the
jobs that each app declares in its jobs.py. Import from the module:

- registry: ScheduledJob, the declared jobs, schedule overrides, SchedulingError.
- jobstore: sync the declared jobs into django-apscheduler's job store, pause, resume, run now.
- leadership: the lease, the live instances, runs cut off by a change of leader.
- claims: claims of due fire times (and the ones missed) and of run-now requests.
- execution: running a claimed job and recording its outcome; `runjob`; old run requests.
- statuses: the statuses a run is recorded with.
- runtime: the leader loop (SchedulerProcess) that `runapscheduler` runs.
- selectors: reads (who leads, heartbeat, how jobs fare); admin: the job and history admin.
"""
