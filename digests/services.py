"""Writes and rules of the digests app: scraping sources into the opportunity catalogue."""

import functools
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import CharField, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils import timezone

from digests import selectors, tokens, weeks
from digests.errors import DigestsError, TestDigestRateLimited
from digests.models import DigestEmail, DigestItem, Opportunity, OpportunitySource
from digests.recommender import Catalogue
from digests.rendering import DIGEST_TEMPLATE, DigestCards, DigestFrames
from digests.scraping.fetch import FetchError, FetchPolicy, fetch
from digests.scraping.normalise import ItemSkipped, normalise_item
from digests.scraping.parsers import ParseError, parse
from digests.selectors import sources_due
from outreach.models import Category, EmailOutbox
from outreach.selectors import suppressed_addresses
from outreach.services import OutboxDraft, email_render, outbox_enqueue_many, suppression_add
from proletto.bulk import objs_insert_ignoring_conflicts, rows_insert
from proletto.vocabulary import MEDIUMS

logger = logging.getLogger(__name__)

UPSERT_BATCH = 500
# last_seen_at is refreshed at most this often, so an unchanged re-scrape writes nothing.
SEEN_RESOLUTION = timedelta(days=1)
UPDATE_FIELDS = [
    "title",
    "organisation",
    "kind",
    "description",
    "deadline",
    "city",
    "country",
    "location_text",
    "is_remote",
    "mediums",
    "tags",
    "eligibility",
    "fee_amount",
    "fee_currency",
    "source",
    "status",
    "content_hash",
    "last_seen_at",
]


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
    started = time.monotonic()
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
    logger.info(
        "scrape_opportunities%s: %s in %.1fs",
        " (dry run)" if dry_run else "",
        " ".join(f"{key}={value}" for key, value in summary.as_counts().items()),
        time.monotonic() - started,
    )
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


def opportunities_upsert(*, source_id: int, items: list[dict], now, dry_run: bool = False) -> dict:
    """Insert new opportunities and update changed ones, keyed by canonical URL.

    Unchanged items (same content hash) cost no write, apart from a last_seen_at refresh at
    most once a day. An item another source already lists stays with that source.
    """
    by_url, duplicates = {}, 0
    for item in items:
        if item["url"] in by_url:
            duplicates += 1
        else:
            by_url[item["url"]] = item
    counts = {"created": 0, "updated": 0, "unchanged": 0, "duplicates": duplicates}
    urls = list(by_url)
    for start in range(0, len(urls), UPSERT_BATCH):
        batch = urls[start : start + UPSERT_BATCH]
        with transaction.atomic():
            _upsert_batch(
                [by_url[url] for url in batch],
                source_id=source_id,
                now=now,
                dry_run=dry_run,
                counts=counts,
            )
    return counts


def _upsert_batch(items, *, source_id, now, dry_run, counts) -> None:
    existing = {
        url: (pk, content_hash, owner, last_seen_at)
        for url, pk, content_hash, owner, last_seen_at in Opportunity.objects.filter(
            url__in=[item["url"] for item in items]
        ).values_list("url", "pk", "content_hash", "source_id", "last_seen_at")
    }
    to_create, to_update, seen_ids = [], [], []
    for item in items:
        status = (
            Opportunity.Status.EXPIRED
            if item["deadline"] is not None and item["deadline"] < now
            else Opportunity.Status.ACTIVE
        )
        found = existing.get(item["url"])
        if found is None:
            to_create.append(
                Opportunity(
                    **item, source_id=source_id, status=status, first_seen_at=now, last_seen_at=now
                )
            )
            continue
        pk, content_hash, owner, last_seen_at = found
        if owner not in (None, source_id) or content_hash == item["content_hash"]:
            counts["unchanged"] += 1
            if owner == source_id and last_seen_at < now - SEEN_RESOLUTION:
                seen_ids.append(pk)
            continue
        to_update.append(
            Opportunity(pk=pk, **item, source_id=source_id, status=status, last_seen_at=now)
        )
    counts["created"] += len(to_create)
    counts["updated"] += len(to_update)
    if dry_run:
        return
    if to_create:
        # Another process may insert the same URL between our read and this write: the
        # unique constraint turns that into an update instead of an error.
        Opportunity.objects.bulk_create(
            to_create,
            batch_size=UPSERT_BATCH,
            update_conflicts=True,
            unique_fields=["url"],
            update_fields=UPDATE_FIELDS,
        )
    if to_update:
        Opportunity.objects.bulk_update(to_update, UPDATE_FIELDS, batch_size=UPSERT_BATCH)
    if seen_ids:
        Opportunity.objects.filter(pk__in=seen_ids).update(last_seen_at=now)


def opportunities_touch(*, source_id: int, listed_since, now) -> int:
    """The source answered "not modified": what it listed at its last parse is still listed.

    Those are its opportunities seen at that parse, give or take the daily resolution of
    last_seen_at; one UPDATE that changes nothing when they were refreshed within a day.
    """
    if listed_since is None:
        return 0
    return Opportunity.objects.filter(
        source_id=source_id,
        last_seen_at__gte=listed_since - SEEN_RESOLUTION,
        last_seen_at__lt=now - SEEN_RESOLUTION,
    ).update(last_seen_at=now)


def _expired_queryset(now):
    return Opportunity.objects.filter(status=Opportunity.Status.ACTIVE, deadline__lt=now)


def opportunities_expire(*, now=None) -> int:
    """Mark active opportunities whose deadline has passed as expired; returns how many."""
    return _expired_queryset(now or timezone.now()).update(status=Opportunity.Status.EXPIRED)


# --- the weekly digest -----------------------------------------------------------------------


def digests_send_due(*, now=None, batch_size: int = 1000) -> dict:
    """Queue this week's digest for every candidate whose local send time has come.

    Safe to run twice and to stop midway: each batch is one transaction, a digest row per
    (user, week) is unique in the database, rows are filled in only by the run that inserted
    them, and the outbox key is per (user, week).
    """
    now = now or timezone.now()
    started = time.monotonic()
    counts = {"users": 0, "queued": 0, "skipped": 0, "taken_by_other_run": 0}
    counts.update(digests_sync_from_outbox())
    by_week = weeks.due_zones_by_week(selectors.digest_candidate_zones(), now)
    if by_week:
        catalogue = Catalogue(selectors.catalogue_items(now=now), today=now.date())
        cards = DigestCards()
        run_id = uuid.uuid4().hex
        for week, zones in sorted(by_week.items()):
            last_id = 0
            while True:
                users = list(
                    selectors.digest_recipients(week=week, zones=zones)
                    .filter(pk__gt=last_id)
                    .order_by("pk")
                    .values(*selectors.PROFILE_FIELDS)[:batch_size]
                )
                if not users:
                    break
                last_id = users[-1]["id"]
                batch = _digest_batch(
                    week=week,
                    users=users,
                    catalogue=catalogue,
                    cards=cards,
                    run_id=run_id,
                    now=now,
                )
                for key, value in batch.items():
                    counts[key] += value
    logger.info(
        "send_weekly_digests: users=%d queued=%d skipped=%d taken_by_other_run=%d in %.2fs",
        counts["users"],
        counts["queued"],
        counts["skipped"],
        counts["taken_by_other_run"],
        time.monotonic() - started,
    )
    return counts


def _digest_batch(
    *, week, users: list[dict], catalogue: Catalogue, cards: DigestCards, run_id: str, now
) -> dict:
    limit = settings.DIGEST_OPPORTUNITY_COUNT
    with transaction.atomic():
        profiles = selectors.digest_profiles(users)
        suppressed = suppressed_addresses([user["email"] for user in users], Category.DIGEST)
        rows, picks_by_user = [], {}
        for user in users:
            picks = catalogue.recommend(profiles[user["id"]], limit=limit)
            row = DigestEmail(user_id=user["id"], week_start=week, run_id=run_id, created_at=now)
            if user["email"].lower() in suppressed:
                row.status, row.skip_reason = DigestEmail.Status.SKIPPED, "address suppressed"
            elif not picks:
                row.status = DigestEmail.Status.SKIPPED
                row.skip_reason = "no open opportunity fits the profile"
            else:
                row.status, row.opportunity_count = DigestEmail.Status.QUEUED, len(picks)
                picks_by_user[user["id"]] = picks
            rows.append(row)
        # Another run may have taken some of these users since we read them: the unique
        # (user, week) constraint keeps its rows, and we fill in only the ones we inserted.
        ours = objs_insert_ignoring_conflicts(rows, key="user")
        if ours is None:  # the database could not say which rows it inserted
            ours = dict(
                DigestEmail.objects.filter(
                    run_id=run_id, week_start=week, user_id__in=[user["id"] for user in users]
                ).values_list("user_id", "id")
            )
        queued = [user for user in users if user["id"] in ours and user["id"] in picks_by_user]
        digest_ids = {user["id"]: ours[user["id"]] for user in queued}
        _digest_store_items(digest_ids, picks_by_user)
        _digest_enqueue(
            week=week, users=queued, digest_ids=digest_ids, picks=picks_by_user, cards=cards
        )
    skipped = sum(
        1 for row in rows if row.status == DigestEmail.Status.SKIPPED and row.user_id in ours
    )
    return {
        "users": len(users),
        "queued": len(queued),
        "skipped": skipped,
        "taken_by_other_run": len(users) - len(ours),
    }


def _digest_store_items(digest_ids: dict[int, int], picks_by_user: dict) -> None:
    # The digests were created by this transaction, so no item can conflict: COPY is safe.
    rows_insert(
        DigestItem,
        ["digest_id", "opportunity_id", "position", "score", "reasons"],
        (
            (digest_id, pick.item_id, position, pick.score, list(pick.reasons))
            for user_id, digest_id in digest_ids.items()
            for position, pick in enumerate(picks_by_user[user_id], start=1)
        ),
    )


def _digest_enqueue(
    *, week, users: list[dict], digest_ids: dict, picks: dict, cards=None, test=False
):
    cards = cards or DigestCards()
    cards.load({pick.item_id for user in users for pick in picks[user["id"]]})
    frames = DigestFrames()
    drafts = []
    for user in users:
        digest_id = digest_ids[user["id"]]
        context, headers = digest_email_context(
            user=user,
            digest_id=digest_id,
            opportunity_ids=[pick.item_id for pick in picks[user["id"]]],
            cards=cards,
        )
        if test:
            key = f"digest-test:{digest_id}"
        else:
            key = _digest_outbox_key(user_id=user["id"], week=week)
        drafts.append(
            OutboxDraft(
                recipient=user["email"],
                template=DIGEST_TEMPLATE,
                context=context,
                category=Category.DIGEST,
                idempotency_key=key,
                headers=headers,
                user_id=user["id"],
                rendered=frames.render(context),
            )
        )
    outbox_ids = outbox_enqueue_many(drafts)
    if test:
        (draft,) = drafts
        DigestEmail.objects.filter(pk=digest_ids[draft.user_id]).update(
            outbox_id=outbox_ids[draft.idempotency_key]
        )
        return
    # One set-based UPDATE per batch, each digest finding its outbox row by the key it was
    # queued under, built in SQL: bulk_update's CASE over a thousand ids took longer to build
    # in Python than the database took to run it.
    prefix, suffix = _digest_outbox_key_parts(week)
    key = Concat(Value(prefix), Cast(OuterRef("user_id"), output_field=CharField()), Value(suffix))
    DigestEmail.objects.filter(pk__in=[digest_ids[user["id"]] for user in users]).update(
        outbox_id=Subquery(EmailOutbox.objects.filter(idempotency_key=key).values("pk"))
    )


def _digest_outbox_key_parts(week) -> tuple[str, str]:
    # One outbox row per user and week, whichever run queues it: "digest:<user id>:<week>".
    return "digest:", f":{week.isoformat()}"


def _digest_outbox_key(*, user_id: int, week) -> str:
    prefix, suffix = _digest_outbox_key_parts(week)
    return f"{prefix}{user_id}{suffix}"


@functools.lru_cache(maxsize=32)
def _link_template(name: str, site_url: str) -> str:
    # reverse() once per URL name and run: the token is the only part that varies.
    return site_url + reverse(name, args=["TOKEN"])


@functools.lru_cache(maxsize=4)
def _view_all_url(site_url: str) -> str:
    return site_url + reverse("digests:opportunities")


def _link(name: str, token: str) -> str:
    return _link_template(name, settings.SITE_URL).replace("TOKEN", token)


def digest_email_context(
    *, user: dict, digest_id: int | None, opportunity_ids: list[int], cards: DigestCards
) -> tuple[dict, dict]:
    """The WEEKLY_DIGEST template context and the email's headers for one user.

    With digest_id None (a preview) the links are not tracked. `cards` must hold the cards of
    `opportunity_ids` (DigestCards.load).
    """
    unsubscribe_url = _link("digests:unsubscribe", tokens.unsubscribe_token(user["id"]))
    items = []
    for opportunity_id in opportunity_ids:
        card = cards[opportunity_id]
        if digest_id is None:
            click_url = card.url
        else:
            click_url = _link("digests:click", tokens.click_token(digest_id, opportunity_id))
        items.append(
            card.fill(
                click_url=click_url,
                deadline_label=cards.deadline_label(card, user["timezone"]),
            )
        )
    context = {
        "greeting_name": user["display_name"] or user["username"],
        "mediums": ", ".join(MEDIUMS.get(m, m) for m in user["mediums"] or ()),
        "items": items,
        "view_all_url": _view_all_url(settings.SITE_URL),
        "unsubscribe_url": unsubscribe_url,
        "footer_address": settings.EMAIL_FOOTER_ADDRESS,
        "open_pixel_url": (
            _link("digests:open", tokens.open_token(digest_id)) if digest_id is not None else ""
        ),
    }
    headers = {
        # RFC 8058 one-click unsubscribe: mail clients POST to this URL with no cookie.
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return context, headers


def digest_send_test(*, user, requested_by=None, now=None) -> DigestEmail:
    """Send `user` the digest they would get now, whatever their subscription, as a test.

    `requested_by` (a staff user) is recorded on the digest and limited to
    TEST_DIGEST_LIMIT_PER_HOUR test digests an hour (TestDigestRateLimited)."""
    now = now or timezone.now()
    if requested_by is not None:
        _test_digest_limit_check(requested_by=requested_by, now=now)
    profile_fields = {field: getattr(user, field) for field in selectors.PROFILE_FIELDS}
    picks = digest_picks_for(user=user, now=now)
    if not picks:
        raise DigestsError(
            f"no open opportunity fits {user.username}'s profile (mediums, interests): "
            "nothing to send"
        )
    week = weeks.week_of(now.astimezone(user.zone).date())
    with transaction.atomic():
        if requested_by is not None:
            # Two clicks at once from one staff user: the second waits here, then counts.
            get_user_model().objects.select_for_update().filter(pk=requested_by.pk).exists()
            _test_digest_limit_check(requested_by=requested_by, now=now)
        digest = DigestEmail.objects.create(
            user=user,
            week_start=week,
            status=DigestEmail.Status.TEST,
            opportunity_count=len(picks),
            created_at=now,
            requested_by=requested_by,
        )
        _digest_store_items({user.id: digest.id}, {user.id: picks})
        _digest_enqueue(
            week=week,
            users=[profile_fields],
            digest_ids={user.id: digest.id},
            picks={user.id: picks},
            test=True,
        )
    digest.refresh_from_db()
    return digest


def _test_digest_limit_check(*, requested_by, now) -> None:
    limit = settings.TEST_DIGEST_LIMIT_PER_HOUR
    oldest = selectors.test_digests_requested_since(
        requested_by=requested_by, since=now - timedelta(hours=1), limit=limit
    )
    if oldest is not None:
        retry_after = max(1, int((oldest + timedelta(hours=1) - now).total_seconds()) + 1)
        raise TestDigestRateLimited(
            f"{requested_by.get_username()} sent {limit} test digests in the last hour "
            f"(TEST_DIGEST_LIMIT_PER_HOUR); try again in {retry_after} s",
            retry_after_seconds=retry_after,
        )


def digest_picks_for(*, user, now=None) -> list:
    """What the recommender picks for `user` now (no writes): for tests, previews, the admin."""
    now = now or timezone.now()
    profile_fields = {field: getattr(user, field) for field in selectors.PROFILE_FIELDS}
    catalogue = Catalogue(selectors.catalogue_items(now=now), today=now.date())
    profile = selectors.digest_profiles([profile_fields])[user.id]
    return catalogue.recommend(profile, limit=settings.DIGEST_OPPORTUNITY_COUNT)


def digest_preview(*, user, now=None) -> tuple[str, str, str]:
    """(subject, body_text, body_html) of the digest `user` would get from the next picks,
    with untracked links and no live unsubscribe token; nothing is written."""
    picks = digest_picks_for(user=user, now=now)
    opportunity_ids = [pick.item_id for pick in picks]
    cards = DigestCards(Opportunity.objects.filter(pk__in=opportunity_ids))
    profile_fields = {field: getattr(user, field) for field in selectors.PROFILE_FIELDS}
    context, _ = digest_email_context(
        user=profile_fields, digest_id=None, opportunity_ids=opportunity_ids, cards=cards
    )
    rendered = email_render(template=DIGEST_TEMPLATE, context=context)
    return tuple(tokens.tokens_redact(part) for part in rendered)


def digests_sync_from_outbox() -> dict:
    """Carry what the outbox learned (sent, gave up, ESP opens and clicks) onto digests.

    Set-based: a handful of UPDATEs, whatever the number of digests.
    """
    outbox = EmailOutbox.objects.filter(pk=OuterRef("outbox_id"))
    sent = DigestEmail.objects.filter(
        status=DigestEmail.Status.QUEUED, outbox__status=EmailOutbox.Status.SENT
    ).update(status=DigestEmail.Status.SENT, sent_at=Subquery(outbox.values("sent_at")[:1]))
    DigestEmail.objects.filter(
        status=DigestEmail.Status.TEST,
        sent_at__isnull=True,
        outbox__status=EmailOutbox.Status.SENT,
    ).update(sent_at=Subquery(outbox.values("sent_at")[:1]))
    failed = DigestEmail.objects.filter(
        status=DigestEmail.Status.QUEUED,
        outbox__status__in=[
            EmailOutbox.Status.DEAD,
            EmailOutbox.Status.CANCELLED,
            EmailOutbox.Status.SUPPRESSED,
        ],
    ).update(status=DigestEmail.Status.FAILED)
    DigestEmail.objects.filter(opened_at__isnull=True, outbox__opened_at__isnull=False).update(
        opened_at=Subquery(outbox.values("opened_at")[:1])
    )
    DigestEmail.objects.filter(clicked_at__isnull=True, outbox__clicked_at__isnull=False).update(
        clicked_at=Subquery(outbox.values("clicked_at")[:1])
    )
    return {"marked_sent": sent, "marked_failed": failed}


def digest_record_open(*, digest_id: int, at=None) -> None:
    """The open pixel was loaded: the first open counts."""
    DigestEmail.objects.filter(pk=digest_id, opened_at__isnull=True).update(
        opened_at=at or timezone.now()
    )


def digest_record_click(*, digest_id: int, opportunity_id: int, at=None) -> str:
    """A tracked link was followed: record it and return the opportunity's own URL.

    Only an opportunity that this digest carried can be the target, so the redirect can never
    point anywhere the digest did not.
    """
    at = at or timezone.now()
    item = (
        DigestItem.objects.select_related("opportunity")
        .filter(digest_id=digest_id, opportunity_id=opportunity_id)
        .first()
    )
    if item is None:
        raise DigestsError("this link does not belong to a digest we sent")
    DigestItem.objects.filter(pk=item.pk, clicked_at__isnull=True).update(clicked_at=at)
    # A click implies the email was opened, even when images were blocked.
    DigestEmail.objects.filter(pk=digest_id, clicked_at__isnull=True).update(clicked_at=at)
    DigestEmail.objects.filter(pk=digest_id, opened_at__isnull=True).update(opened_at=at)
    return item.opportunity.url


def digest_unsubscribe(*, user_id: int, at=None) -> bool:
    """Stop the weekly digest for this user at once; True if they were subscribed until now."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise DigestsError("this unsubscribe link names no account")
    with transaction.atomic():
        changed = (
            get_user_model()
            .objects.filter(pk=user_id, unsubscribed_at__isnull=True)
            .update(unsubscribed_at=at or timezone.now())
        )
        suppression_add(
            address=user.email, reason="unsubscribed from the digest", category=Category.DIGEST
        )
        # Digests queued but not sent yet are not sent after an unsubscribe.
        EmailOutbox.objects.filter(
            user_id=user_id,
            category=Category.DIGEST,
            status__in=EmailOutbox.DUE_STATUSES,
        ).update(status=EmailOutbox.Status.CANCELLED, last_error="recipient unsubscribed")
    return bool(changed)
