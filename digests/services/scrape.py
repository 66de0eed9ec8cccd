"""Scraping sources: claim each due source, fetch, parse and store it, record its health."""

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from digests.errors import DigestsError
from digests.models import OpportunitySource
from digests.scraping.fetch import FetchError, FetchPolicy, fetch
from digests.scraping.guard import parse_networks
from digests.scraping.normalise import ItemSkipped, normalise_item
from digests.scraping.parsers import ParseError, parse
from digests.selectors import sources_due
from digests.services.opportunities import (
    _expired_queryset,
    opportunities_expire,
    opportunities_touch,
    opportunities_upsert,
)

logger = logging.getLogger(__name__)


@dataclass
class SourceResult:
    name: str
    # ok | not_modified (a 304, or the same bytes as last time) | failed
    # | busy (another process is scraping it right now)
    status: str
    items: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    duplicates: int = 0
    error: str = ""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


@dataclass
class ScrapeSummary:
    results: list[SourceResult] = field(default_factory=list)
    expired: int = 0
    dry_run: bool = False

    def total(self, name: str) -> int:
        return sum(getattr(result, name) for result in self.results)

    @property
    def failed(self) -> int:
        return sum(1 for result in self.results if result.status == "failed")

    def as_counts(self) -> dict:
        return {
            "sources": len(self.results),
            "failed": self.failed,
            "not_modified": sum(1 for r in self.results if r.status == "not_modified"),
            "busy": sum(1 for r in self.results if r.status == "busy"),
            "created": self.total("created"),
            "updated": self.total("updated"),
            "unchanged": self.total("unchanged"),
            "skipped_items": self.total("skipped"),
            "expired": self.expired,
        }


@dataclass(frozen=True)
class _Job:
    """What a worker thread needs: plain values, no model instance, no database."""

    source_id: int
    name: str
    kind: str
    url: str
    config: dict
    tz: object
    etag: str
    last_modified: str
    body_sha256: str
    last_parsed_at: object


@dataclass
class _Outcome:
    job: _Job
    items: list = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    not_modified: bool = False
    etag: str = ""
    last_modified: str = ""
    body_sha256: str = ""
    error: str = ""
    seconds: float = 0.0


def fetch_policy(*, timeout: float | None = None) -> FetchPolicy:
    return FetchPolicy(
        user_agent=settings.SCRAPE_USER_AGENT,
        timeout=timeout or settings.SCRAPE_TIMEOUT_SECONDS,
        max_bytes=settings.SCRAPE_MAX_BYTES,
        max_redirects=settings.SCRAPE_MAX_REDIRECTS,
        allow_private_networks=settings.SCRAPE_ALLOW_PRIVATE_NETWORKS,
        allowed_networks=parse_networks(settings.SCRAPE_ALLOWED_PRIVATE_NETWORKS),
    )


def opportunities_scrape(
    *,
    source_names: list[str] | None = None,
    sources: list[OpportunitySource] | None = None,
    dry_run: bool = False,
    timeout: float | None = None,
    max_in_flight: int | None = None,
    on_result: Callable[[SourceResult], None] | None = None,
) -> ScrapeSummary:
    """Scrape sources into opportunities and expire those past their deadline.

    With no names or sources: every enabled source that is due. Named sources run now
    whatever their schedule. Each source is claimed first, so two schedulers, a command and
    an admin click never scrape the same source at once. One failing source is recorded on
    its row and never stops the others. `dry_run` fetches and parses but writes nothing.
    """
    now = timezone.now()
    explicit = sources is not None
    if explicit:
        # Fresh rows: the caching state and claims of the caller's copies may be stale.
        sources = list(OpportunitySource.objects.filter(pk__in=[s.pk for s in sources]))
    else:
        sources = _sources_by_name(source_names) if source_names else list(sources_due(now=now))
    summary = ScrapeSummary(dry_run=dry_run)
    policy = fetch_policy(timeout=timeout)
    in_flight = max(1, max_in_flight or settings.SCRAPE_MAX_IN_FLIGHT)
    # Long enough for every source of this run to be fetched twice over, in waves of
    # `in_flight`; a crashed run's claims expire after it.
    lease = timedelta(seconds=2 * policy.timeout * (len(sources) // in_flight + 2))
    due_only = source_names is None and not explicit
    jobs = []
    for source in sources:
        if dry_run or source_claim(source=source, now=now, lease=lease, due_only=due_only):
            jobs.append(
                _Job(
                    source_id=source.pk,
                    name=source.name,
                    kind=source.kind,
                    url=source.url,
                    config=source.config,
                    tz=source.tzinfo,
                    # A dry run shows what the source holds, not "not modified".
                    etag="" if dry_run else source.etag,
                    last_modified="" if dry_run else source.last_modified,
                    body_sha256="" if dry_run else source.body_sha256,
                    last_parsed_at=source.last_parsed_at,
                )
            )
        else:
            summary.results.append(SourceResult(name=source.name, status="busy"))
            if on_result:
                on_result(summary.results[-1])

    workers = min(in_flight, len(jobs) or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scrape") as pool:
        futures = [pool.submit(_fetch_and_parse, job, policy) for job in jobs]
        # Writes stay on this thread: one connection, and SQLite has one writer anyway.
        for future in as_completed(futures):
            result = _store_outcome(future.result(), now=now, dry_run=dry_run)
            summary.results.append(result)
            if on_result:
                on_result(result)

    if dry_run:
        summary.expired = _expired_queryset(now).count()
    else:
        summary.expired = opportunities_expire(now=now)
    return summary


def _sources_by_name(names: list[str]) -> list[OpportunitySource]:
    found = {source.name: source for source in OpportunitySource.objects.filter(name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        known = ", ".join(OpportunitySource.objects.values_list("name", flat=True)) or "none"
        raise DigestsError(f"no source named {', '.join(map(repr, missing))} (known: {known})")
    return [found[name] for name in dict.fromkeys(names)]


def source_claim(*, source: OpportunitySource, now, lease: timedelta, due_only: bool) -> bool:
    """Take the source for this run with a conditional UPDATE; False if another process has
    it (or, for a scheduled run, if another scheduler already scraped it since we looked)."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    due = (Q(next_fetch_at__isnull=True) | Q(next_fetch_at__lte=now)) if due_only else Q()
    next_fetch_at = now + source.fetch_interval
    claimed = OpportunitySource.objects.filter(free, due, pk=source.pk).update(
        next_fetch_at=next_fetch_at, last_fetched_at=now, claimed_until=now + lease
    )
    if claimed:
        source.next_fetch_at, source.last_fetched_at = next_fetch_at, now
    return bool(claimed)


def _fetch_and_parse(job: _Job, policy: FetchPolicy) -> _Outcome:
    outcome = _Outcome(job=job)
    started = time.monotonic()
    try:
        fetched = fetch(job.url, policy=policy, etag=job.etag, last_modified=job.last_modified)
        outcome.etag, outcome.last_modified = fetched.etag, fetched.last_modified
        if not fetched.not_modified:
            outcome.body_sha256 = hashlib.sha256(fetched.body).hexdigest()
        # Many servers ignore conditional GET; the same bytes as last time are "not
        # modified" too, and cost no parsing.
        if fetched.not_modified or outcome.body_sha256 == job.body_sha256:
            outcome.not_modified = True
        else:
            outcome.items, outcome.problems = items_from_body(
                kind=job.kind, body=fetched.body, config=job.config, base_url=fetched.url, tz=job.tz
            )
    except (FetchError, ParseError) as exc:
        outcome.error = str(exc)
    except Exception as exc:
        # A bug or a hostile input we did not foresee: recorded on the source, never fatal.
        logger.exception("scraping source %r failed unexpectedly", job.name)
        outcome.error = f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    outcome.seconds = time.monotonic() - started
    return outcome


def items_from_body(*, kind, body: bytes, config: dict, base_url: str, tz) -> tuple[list, list]:
    """Normalised items of a fetched body and the reasons items were skipped; ParseError if
    the body is not what `kind` promises."""
    raw_items = parse(kind, body, config=config, base_url=base_url)
    items, problems = [], []
    limit = settings.SCRAPE_MAX_ITEMS_PER_SOURCE
    if len(raw_items) > limit:
        problems.append(f"{len(raw_items) - limit} items over the limit of {limit}")
    for raw in raw_items[:limit]:
        try:
            items.append(normalise_item(raw, base_url=base_url, tz=tz))
        except ItemSkipped as exc:
            problems.append(str(exc))
    return items, problems


def _store_outcome(outcome: _Outcome, *, now, dry_run: bool) -> SourceResult:
    job = outcome.job
    result = SourceResult(name=job.name, status="ok", seconds=outcome.seconds)
    if not outcome.error and not outcome.not_modified:
        try:
            counts = opportunities_upsert(
                source_id=job.source_id, items=outcome.items, now=now, dry_run=dry_run
            )
        except Exception as exc:
            logger.exception("storing opportunities of source %r failed", job.name)
            outcome.error = f"storing failed: {type(exc).__name__}: {str(exc)[:300]}"
        else:
            result.items = len(outcome.items)
            result.created, result.updated = counts["created"], counts["updated"]
            result.unchanged, result.duplicates = counts["unchanged"], counts["duplicates"]
            result.skipped = len(outcome.problems)
            result.problems = outcome.problems
    if outcome.error:
        result.status, result.error = "failed", outcome.error
        logger.warning("source %r failed: %s", job.name, outcome.error)
    elif outcome.not_modified:
        result.status = "not_modified"
        if not dry_run:
            opportunities_touch(source_id=job.source_id, listed_since=job.last_parsed_at, now=now)
    for problem in outcome.problems[:5]:
        logger.info("source %r: skipped %s", job.name, problem)
    if not dry_run:
        _record_health(outcome, now=now)
    return result


def _record_health(outcome: _Outcome, *, now) -> None:
    sources = OpportunitySource.objects.filter(pk=outcome.job.source_id)
    if outcome.error:
        sources.update(
            consecutive_failures=F("consecutive_failures") + 1,
            last_error=outcome.error[:2000],
            claimed_until=None,
        )
        return
    changes = {
        "last_success_at": now,
        "consecutive_failures": 0,
        "last_error": "",
        "etag": outcome.etag[:500],
        "last_modified": outcome.last_modified[:100],
        "claimed_until": None,
    }
    if not outcome.not_modified:
        changes["last_item_count"] = len(outcome.items)
        changes["body_sha256"] = outcome.body_sha256
        changes["last_parsed_at"] = now
    sources.update(**changes)
