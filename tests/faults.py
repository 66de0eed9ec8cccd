"""Real faults for drills and process tests: a TCP proxy in front of the database server.

Processes under test connect through the proxy (`DatabaseProxy.database_url()`); the test
itself keeps its own direct connection to watch. The proxy makes the faults a client sees of
a real server, over real sockets:

- `stop()`: every proxied connection is closed at once and new ones are refused (the listening
  socket is closed): what a stopped or restarting PostgreSQL looks like from a client.
- `hang()`: connections stay open but nothing passes either way, and new ones are accepted and
  never answered: a database host that accepts and never answers.
- `start()`: back to forwarding (new connections work; connections cut by `stop()` stay cut).

A proxy rather than stopping the machine's PostgreSQL: other tests and processes share that
server, and `pg_ctl stop` would need a private cluster and the postgres user.
"""

import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

from django.db import connection

_CHUNK = 64 * 1024


def direct_database_url() -> str:
    """The test database as a DATABASE_URL (PostgreSQL only: SQLite has no server to fail)."""
    config = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("a database proxy needs PostgreSQL")
    user = config.get("USER") or "postgres"
    host = config.get("HOST") or "127.0.0.1"
    port = config.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{config['NAME']}"


class DatabaseProxy:
    def __init__(self, upstream_host: str | None = None, upstream_port: int | None = None):
        config = connection.settings_dict
        self.upstream = (
            upstream_host or config.get("HOST") or "127.0.0.1",
            int(upstream_port or config.get("PORT") or 5432),
        )
        self.port = 0
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._flowing = threading.Event()
        self._flowing.set()
        self.connections_made = 0

    # --- control -----------------------------------------------------------------------

    def start(self) -> "DatabaseProxy":
        """Forward (again): new connections reach the server."""
        self._flowing.set()
        if self._listener is None:
            self._listen()
        return self

    def stop(self) -> None:
        """Cut every connection and refuse new ones, as a stopped server does."""
        self._close_listener()
        self._cut_all()

    def hang(self) -> None:
        """Nothing passes any more and new connections are accepted but never answered."""
        self._flowing.clear()
        if self._listener is None:
            self._listen()

    def cut(self) -> None:
        """Close every current connection; new ones still work (a backend restart)."""
        self._cut_all()

    def close(self) -> None:
        self._flowing.set()
        self._close_listener()
        self._cut_all()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    def database_url(self) -> str:
        """The test database's URL through the proxy."""
        parts = urlsplit(direct_database_url())
        netloc = (
            f"{parts.username}@127.0.0.1:{self.port}"
            if parts.username
            else (f"127.0.0.1:{self.port}")
        )
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    # --- plumbing ----------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accepting = threading.Thread(
            target=self._accept_loop, args=(listener,), name="db-proxy-accept", daemon=True
        )
        self._accepting.start()

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._accepting is not None:
            self._accepting.join(timeout=5)
            self._accepting = None

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: stop() or close()
            if not self._flowing.is_set():
                with self._lock:  # held open, never answered
                    self._pairs.append((client, None))
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _hard_close(client)
                continue
            with self._lock:
                self._pairs.append((client, server))
                self.connections_made += 1
            for source, target in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(source, target), name="db-proxy-pump", daemon=True
                ).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                self._flowing.wait()
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._forget(source, target)

    def _forget(self, a: socket.socket, b: socket.socket) -> None:
        with self._lock:
            self._pairs = [pair for pair in self._pairs if a not in pair and b not in pair]
        _hard_close(a)
        _hard_close(b)

    def _cut_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, server in pairs:
            _hard_close(client)
            if server is not None:
                _hard_close(server)


def _hard_close(sock: socket.socket) -> None:
    # A reset, not a polite FIN: the client sees its connection break at once.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
