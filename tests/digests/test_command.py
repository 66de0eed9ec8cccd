import re
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from digests.models import Opportunity

from .conftest import NOW

pytestmark = pytest.mark.django_db


def run(*args, stderr=None):
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("scrape_opportunities", *args, stdout=out, stderr=stderr or StringIO())
    return out.getvalue()


def summary_table(output: str) -> dict[str, dict[str, str]]:
    """The table's rows by source name, each cell read under its column's heading."""
    lines = output.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("source"))
    columns = [(heading.group(), heading.start()) for heading in re.finditer(r"\S+", lines[start])]
    ends = [begin for _, begin in columns[1:]] + [None]
    rows = {}
    for line in lines[start + 1 : -1]:  # the last line is the summary
        row = {
            name: line[begin:end].strip() for (name, begin), end in zip(columns, ends, strict=True)
        }
        rows[row["source"]] = row
    return rows


def test_it_scrapes_due_sources_and_prints_a_summary_table(demo_sources):
    output = run()
    assert Opportunity.objects.count() == 35
    assert output.splitlines()[-1] == (
        "Created 35, updated 0, unchanged 0, skipped items 0, expired 0; 4 sources, 0 failed."
    )
    rows = summary_table(output)
    assert sorted(rows) == sorted(source.name for source in demo_sources.values())
    assert all(row["status"] == "ok" and row["error"] == "" for row in rows.values())
    assert sum(int(row["new"]) for row in rows.values()) == 35
    artcalls = rows["ArtCalls"]
    assert (artcalls["items"], artcalls["new"], artcalls["updated"]) == ("10", "10", "0")
    assert (artcalls["same"], artcalls["skipped"]) == ("0", "0")


def test_it_prints_one_plain_progress_line_per_source_on_stderr(demo_sources):
    err = StringIO()
    output = run(stderr=err)
    progress = [line for line in err.getvalue().splitlines() if line.startswith("[")]
    assert len(progress) == 4
    assert "\r" not in err.getvalue()
    assert not any(line.startswith("[") for line in output.splitlines())  # stdout: table only


def test_it_scrapes_only_the_named_source_even_if_not_due(demo_sources):
    run()
    output = run("--source", "Grants")
    assert "1 sources, 0 failed" in output
    assert "Grants" in output and "ArtCalls" not in output


def test_an_unknown_source_name_is_a_one_line_error_that_changes_nothing(demo_sources):
    with pytest.raises(CommandError, match=r"no source named 'Nope' \(known: ArtCalls, "):
        run("--source", "Nope")
    assert Opportunity.objects.count() == 0
    demo_sources["rss"].refresh_from_db()
    assert demo_sources["rss"].last_fetched_at is None


def test_a_dry_run_reports_what_it_would_do_and_writes_nothing(demo_sources):
    output = run("--dry-run")
    assert "Dry run: would create 35, update 0" in output
    assert Opportunity.objects.count() == 0


def test_a_failed_source_shows_in_the_table_and_fails_the_command(feed_server, demo_sources):
    feed_server.serve("/demo/grants.json", b"nope", status=500)
    out = StringIO()
    with time_machine.travel(NOW, tick=False), pytest.raises(CommandError) as failure:
        call_command("scrape_opportunities", stdout=out, stderr=StringIO())
    assert failure.value.returncode == 1
    assert str(failure.value) == "1 of 4 sources failed: Grants"
    grants = summary_table(out.getvalue())["Grants"]
    assert (grants["status"], grants["error"]) == ("failed", "HTTP 500 Internal Server Error")
    assert out.getvalue().splitlines()[-1].endswith("4 sources, 1 failed.")
    assert Opportunity.objects.count() == 26  # the other three were scraped all the same


def test_a_named_source_that_fails_exits_non_zero(feed_server, demo_sources):
    feed_server.serve("/demo/grants.json", b"nope", status=500)
    with pytest.raises(CommandError, match="1 of 1 sources failed: Grants") as failure:
        run("--source", "Grants")
    assert failure.value.returncode == 1


def test_a_named_source_that_succeeds_exits_zero(demo_sources):
    assert "1 sources, 0 failed" in run("--source", "Grants")


def test_it_says_so_when_nothing_is_due(db):
    assert run() == "No source is due (0 enabled). Nothing to do.\n"


def test_a_bad_timeout_is_refused(db):
    with pytest.raises(CommandError, match="--timeout must be a positive"):
        run("--timeout", "0")


class TerminalOutput(StringIO):
    def isatty(self):
        return True


def test_it_draws_a_progress_bar_on_a_terminal(demo_sources):
    err = TerminalOutput()
    with time_machine.travel(NOW, tick=False):
        call_command("scrape_opportunities", stdout=StringIO(), stderr=err)
    output = err.getvalue()
    assert "\r[" + "#" * 30 + "] 4/4 " in output
    assert not any(line.startswith("[1/4]") for line in output.splitlines())
