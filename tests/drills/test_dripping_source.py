"""Drill: a source that drips its headers or its body a byte every half second, scraped by a
real `manage.py scrape_opportunities` process with SCRAPE_TIMEOUT_SECONDS=4. Before issue 15
the process was still fetching after 100 s; now each fetch ends at its deadline, the source
records why, and the process exits."""

import time

import pytest

from digests.models import OpportunitySource
from tests.digests.test_fetch_guard import DripServer
from tests.drills.scheduler_drill import record_figures
from tests.outreach.processes import manage

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_SECONDS = 4
DRIPS = {
    "body": (b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n<rss>", b" "),
    "headers": (b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a"),
}


def test_a_dripping_source_is_cut_at_the_deadline_and_the_scrape_ends(monkeypatch):
    monkeypatch.setattr("tests.digests.test_fetch_guard.DRIP_EVERY", 0.5)
    figures = {"timeout_seconds": TIMEOUT_SECONDS, "drip_every_seconds": 0.5}
    for name, (head, drip) in DRIPS.items():
        server = DripServer(head, drip)
        source = OpportunitySource.objects.create(
            name=f"Drips its {name}", kind=OpportunitySource.Kind.FEED, url=server.url
        )
        started = time.monotonic()
        process = manage(
            "scrape_opportunities",
            "--source",
            source.name,
            SCRAPE_TIMEOUT_SECONDS=TIMEOUT_SECONDS,
            SCRAPE_ALLOW_PRIVATE_NETWORKS="true",
        )
        try:
            process.communicate(timeout=120)
        finally:
            process.kill()
            server.close()
        figures[f"{name}_drip_process_seconds"] = round(time.monotonic() - started, 1)
        source.refresh_from_db()
        assert source.last_error == f"timed out after {TIMEOUT_SECONDS}s"
        assert source.consecutive_failures == 1
    record_figures("dripping_source", figures)
