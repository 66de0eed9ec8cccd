"""Benchmark: scraping N local sources of M items each.

    .venv/bin/python bench/scrape.py [--sources 50] [--items 200] [--latency 0.5]

A local HTTP server on 127.0.0.1 answers every source after `--latency` seconds (the slowest
source after twice that). Figures, all measured in this run:
  - baseline: scraping the slowest source alone (its latency + parse + write);
  - cold run: all sources, nothing stored yet, at the default and at full concurrency,
    as wall time and as a ratio to the baseline (1.0 would be perfect overlap);
  - re-scrape of unchanged sources: with conditional GET (304s); without it but the same
    bytes (recognised by hash, not parsed); and with new bytes carrying the same items (full
    parse, every item found unchanged by its content hash). Wall time and the number of
    statements writing opportunity rows (target: 0; the two set-based sweeps that match no
    row, expiry and the last-seen refresh, are not counted).
Uses a throwaway SQLite file unless DATABASE_URL is set. Writes bench/results/scrape.json.
"""

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proletto.settings_test")
TMP = tempfile.mkdtemp(prefix="proletto-bench-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{TMP}/bench.sqlite3")

MEDIUMS = ["painting", "sculpture", "photography", "ceramics", "printmaking", "video art"]
KINDS = ["Open call", "Residency", "Grant", "Fellowship", "Prize"]


def rss(source: int, items: int) -> bytes:
    entries = []
    for i in range(items):
        deadline = dt.date(2027, 1, 1) + dt.timedelta(days=(source * 7 + i) % 300)
        entries.append(
            f"<item><title>{KINDS[i % 5]} {source}-{i}: &lt;b&gt;new work&lt;/b&gt;</title>"
            f"<link>https://s{source}.example/calls/{i}?utm_source=rss</link>"
            f"<description>&lt;p&gt;Opportunity {i} of source {source} for artists working in"
            f" {MEDIUMS[i % 6]}. Fee &amp;pound;10.&lt;/p&gt;</description>"
            f"<category>{MEDIUMS[i % 6]}</category><category>emerging</category>"
            f"<opp:deadline>{deadline.isoformat()}</opp:deadline>"
            f"<opp:location>Berlin, Germany</opp:location><opp:fee>€10</opp:fee></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:opp="https://proletto.example/ns/opportunity"><channel>'
        f"<title>Source {source}</title>{''.join(entries)}</channel></rss>"
    ).encode()


def json_feed(source: int, items: int) -> bytes:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": f"Source {source}",
            "items": [
                {
                    "id": str(i),
                    "url": f"https://s{source}.example/grants/{i}?fbclid=x",
                    "title": f"{KINDS[i % 5]} {source}-{i}",
                    "content_text": f"Grant {i} for {MEDIUMS[i % 6]}.",
                    "tags": [MEDIUMS[i % 6], "ecology"],
                    "_proletto": {
                        "deadline": f"{1 + i % 28} March 2027",
                        "location": "Remote",
                        "fee": "Free",
                    },
                }
                for i in range(items)
            ],
        }
    ).encode()


def html(source: int, items: int) -> bytes:
    rows = "".join(
        f'<article class="o"><h2><a href="https://s{source}.example/calls/{i}">'
        f"{KINDS[i % 5]} {source}-{i}</a></h2>"
        f'<p class="d">Deadline: {1 + i % 28} April 2027</p><ul><li>{MEDIUMS[i % 6]}</li></ul>'
        f'<p class="s">Listing {i}</p></article>'
        for i in range(items)
    )
    return f"<html><body><main>{rows}</main></body></html>".encode()


KIND_BODIES = [("feed", rss, {}), ("json_feed", json_feed, {})]
KIND_BODIES.append(
    (
        "html",
        html,
        {
            "item": "article.o",
            "title": "h2",
            "link": "h2 a",
            "deadline": ".d",
            "mediums": "li",
            "description": ".s",
        },
    )
)


class Server:
    def __init__(self, bodies: dict[str, bytes], latency: float, slowest: str):
        # `padding`: trailing spaces, new bytes that carry the same items.
        self.bodies, self.conditional, self.padding = bodies, True, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                # Simulated network and server latency of a remote site.
                time.sleep(latency * (2 if self.path == slowest else 1))
                body = server.bodies[self.path] + b" " * server.padding
                etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
                if server.conditional and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                if server.conditional:
                    self.send_header("ETag", etag)
                    self.send_header(
                        "Last-Modified", format_datetime(dt.datetime.now(dt.UTC), usegmt=True)
                    )
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.5)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from digests.models import Opportunity, OpportunitySource
    from digests.services.scrape import opportunities_scrape

    settings.SCRAPE_MAX_BYTES = 50 * 1024 * 1024
    settings.SCRAPE_ALLOW_PRIVATE_NETWORKS = True  # the sources are on 127.0.0.1
    call_command("migrate", verbosity=0)
    Opportunity.objects.all().delete()
    OpportunitySource.objects.all().delete()

    bodies, sources = {}, []
    for number in range(args.sources):
        kind, render, config = KIND_BODIES[number % len(KIND_BODIES)]
        path = f"/source/{number}"
        bodies[path] = render(number, args.items)
        sources.append((f"source {number:03d}", kind, path, config))
    slowest_path = sources[-1][2]
    server = Server(bodies, args.latency, slowest=slowest_path)
    OpportunitySource.objects.bulk_create(
        OpportunitySource(name=name, kind=kind, url=server.url(path), config=config)
        for name, kind, path, config in sources
    )
    every = list(OpportunitySource.objects.order_by("name"))
    slowest = every[-1]

    def run(label, selected, in_flight, *, reset=False):
        if reset:
            Opportunity.objects.all().delete()
            OpportunitySource.objects.update(etag="", last_modified="", body_sha256="")
        fresh = list(OpportunitySource.objects.filter(pk__in=[s.pk for s in selected]))
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            summary = opportunities_scrape(sources=fresh, max_in_flight=in_flight)
            seconds = time.perf_counter() - started
        table = f'"{Opportunity._meta.db_table}"'
        writes = [
            q["sql"]
            for q in queries.captured_queries
            if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")
            and table in q["sql"].split()[:3]
            and "SET \"status\" = 'expired'" not in q["sql"]
            and '"last_seen_at" <' not in q["sql"]
        ]
        counts = summary.as_counts()
        print(
            f"{label:<44} {seconds:7.2f}s  created={counts['created']:<6} "
            f"updated={counts['updated']:<4} unchanged={counts['unchanged']:<6} "
            f"not_modified={counts['not_modified']:<3} failed={counts['failed']} "
            f"opportunity_writes={len(writes)}"
        )
        assert counts["failed"] == 0, [r.error for r in summary.results if r.error]
        return {
            "seconds": round(seconds, 3),
            "opportunity_write_statements": len(writes),
            "queries": len(queries.captured_queries),
            **counts,
        }

    print(
        f"{args.sources} sources x {args.items} items, latency {args.latency}s "
        f"(slowest {2 * args.latency}s), {connection.vendor}"
    )
    results = {"baseline_slowest_alone": run("baseline: slowest source alone", [slowest], 1)}
    base = results["baseline_slowest_alone"]["seconds"]
    default = settings.SCRAPE_MAX_IN_FLIGHT
    results["cold_default_in_flight"] = run(
        f"cold, {default} in flight (default)", every, default, reset=True
    )
    results["cold_all_in_flight"] = run(
        f"cold, {args.sources} in flight", every, args.sources, reset=True
    )
    results["rescrape_304"] = run(f"re-scrape, 304s, {default} in flight", every, default)
    results["rescrape_304_all_in_flight"] = run(
        f"re-scrape, 304s, {args.sources} in flight", every, args.sources
    )
    server.conditional = False
    results["rescrape_same_bytes_no_etag"] = run(
        f"re-scrape, same bytes, no ETag, {default} in fl.", every, default
    )
    server.padding = 1
    results["rescrape_new_bytes_same_items"] = run(
        f"re-scrape, new bytes same items, {default} in fl.", every, default
    )
    print("\nratios to the baseline (wall time / slowest source alone):")
    for key, value in results.items():
        value["ratio_to_baseline"] = round(value["seconds"] / base, 2)
        print(f"  {key:<28} {value['ratio_to_baseline']:6.2f}x")
    out = ROOT / "bench" / "results" / "scrape.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "scrape",
                "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "database": connection.vendor,
                "args": vars(args),
                "results": results,
            },
            indent=2,
        )
    )
    print(f"\nwritten {out.relative_to(ROOT)}")
    server.httpd.shutdown()


if __name__ == "__main__":
    main()
