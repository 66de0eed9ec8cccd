"""Fewer passes of the garbage collector during a batch run.

CPython's cycle collector runs a pass every 700 allocations of container objects (lists,
dicts, tuples, instances), and its passes over older generations walk every object they
hold. The weekly digest allocates millions of short-lived containers a run (profiles,
picks, rows, template values), freed by reference counting as soon as they are dropped,
and spent about 15 % of its build time in those passes (bench/digest.py, build alone: 3.74 s
of CPU for 10,000 users, 3.17 s with the collector off). Inside `gc_relaxed()` a pass runs
every GC_FIRST_THRESHOLD allocations instead: the same time as with the collector off, and
garbage in reference cycles (rare here) waits a little longer to be freed.

The threshold is process-wide: it is counted like WriteBehind's switch interval, and the
one before is restored when the last run in the process that relaxed it ends.
"""

import gc
import threading
from contextlib import contextmanager

GC_FIRST_THRESHOLD = 20_000

_lock = threading.Lock()
_users = 0
_threshold_before: tuple[int, ...] = ()


@contextmanager
def gc_relaxed():
    global _users, _threshold_before
    with _lock:
        if _users == 0:
            _threshold_before = gc.get_threshold()
            if _threshold_before[0] != 0:  # 0: the process turned the collector off; keep it so
                gc.set_threshold(
                    max(GC_FIRST_THRESHOLD, _threshold_before[0]), *_threshold_before[1:]
                )
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                gc.set_threshold(*_threshold_before)
