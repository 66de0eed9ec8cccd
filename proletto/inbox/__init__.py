"""The webhook inbox: authenticated requests are stored raw and applied later by a job.

- registry.py: each app declares the handlers of its sources in `<app>/inbox.py`.
- services.py: store, claim, apply with backoff, hold, replay, prune.
- admin.py: the inbox in the admin, with replay actions.
"""
