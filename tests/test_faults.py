"""The drills' database proxy does to its clients what a stopped or hung server does."""

import time

import psycopg
import pytest

from tests.faults import DatabaseProxy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _connect(proxy, **kwargs):
    return psycopg.connect(proxy.database_url().replace("postgres://", "postgresql://"), **kwargs)


def test_a_stopped_proxy_breaks_open_connections_and_refuses_new_ones():
    with DatabaseProxy() as proxy:
        conn = _connect(proxy, autocommit=True)
        assert conn.execute("SELECT 1").fetchone() == (1,)
        proxy.stop()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError, match="refused"):
            _connect(proxy, connect_timeout=2)
        proxy.start()
        assert _connect(proxy, autocommit=True).execute("SELECT 2").fetchone() == (2,)


def test_a_hung_proxy_accepts_connections_and_never_answers():
    with DatabaseProxy() as proxy:
        proxy.hang()
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            _connect(proxy, connect_timeout=1)
        assert time.monotonic() - started >= 0.9
