"""One wall-clock deadline for a whole ESP request, whatever the ESP drips.

`requests` (and so Anymail) only bounds each socket operation: an ESP that sends one byte of
its answer every few seconds keeps a request alive for ever. Here every socket the ESP session
opens is remembered by the thread that opened it, and a watchdog shuts those sockets down
when the thread's request outlives its deadline: the blocked read returns at once and the
request fails like a dropped connection (an ambiguous send, see outreach/services/sending.py).
"""

import contextlib
import socket
import threading
import time

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_local = threading.local()


class _Watch:
    """One request in flight: its deadline, the sockets of its thread, whether it was cut."""

    def __init__(self, deadline: float, sockets: list):
        self.deadline = deadline
        self.sockets = sockets
        self.expired = False

    def cut(self) -> None:
        self.expired = True
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _thread_sockets() -> list:
    sockets = getattr(_local, "sockets", None)
    if sockets is None:
        sockets = _local.sockets = []
    return sockets


def _remember(sock: socket.socket) -> None:
    sockets = _thread_sockets()
    sockets[:] = [known for known in sockets if known.fileno() != -1]
    sockets.append(sock)
    watch = getattr(_local, "watch", None)
    if watch is not None and time.monotonic() >= watch.deadline:
        watch.cut()  # connecting took the whole deadline


class _DeadlineHTTPConnection(HTTPConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _remember(sock)
        return sock


class _DeadlineHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _remember(sock)
        return sock


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


# For a urllib3 PoolManager's pool_classes_by_scheme (outreach/sendgrid_backend.py).
DEADLINE_POOL_CLASSES = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose connections a RequestDeadlines watchdog can cut."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = DEADLINE_POOL_CLASSES


def install_deadline_adapter(session) -> None:
    """Make a requests session's connections cuttable (Anymail's ESP session, for one)."""
    adapter = DeadlineAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)


class RequestDeadlines:
    """A watchdog thread that cuts requests running past their deadline."""

    def __init__(self, *, tick: float = 0.1):
        self._tick = tick
        self._lock = threading.Lock()
        self._watches: set[_Watch] = set()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="esp-deadlines", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def watch(self, seconds: float):
        """Within this block, the calling thread's ESP sockets are cut after `seconds`."""
        watch = _Watch(time.monotonic() + seconds, _thread_sockets())
        _local.watch = watch
        with self._lock:
            self._watches.add(watch)
        try:
            yield watch
        finally:
            with self._lock:
                self._watches.discard(watch)
            _local.watch = None

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.wait(self._tick):
            now = time.monotonic()
            with self._lock:
                late = [watch for watch in self._watches if now >= watch.deadline]
                self._watches.difference_update(late)
            for watch in late:
                watch.cut()
