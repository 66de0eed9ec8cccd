"""Health checks of this week's digests and the opportunity sources (discovered by
proletto.monitoring.checks)."""

import datetime as dt

from django.conf import settings
from django.db.models import Count, Q

from digests.models import DigestEmail, OpportunitySource
from digests.weeks import week_of
from proletto.monitoring.results import FAILING, OK, WARNING, CheckResult


def check_digests(now) -> list[CheckResult]:
    week = week_of(now.date()) - dt.timedelta(days=1)  # this week, in every time zone
    counts = (
        DigestEmail.objects.with_delivery()
        .filter(week_start__gte=week)
        .exclude(status=DigestEmail.Status.TEST)
        .aggregate(
            failed=Count("id", filter=Q(delivery=DigestEmail.Delivery.FAILED)),
            total=Count("id"),
        )
    )
    failed, total = counts["failed"], counts["total"]
    share = failed / total if total else 0.0
    if failed == 0:
        status = OK
    elif share >= settings.HEALTH_DIGEST_FAILED_SHARE_FAILING:
        status = FAILING
    else:
        status = WARNING
    return [
        CheckResult(
            "digests failed this week",
            status,
            str(failed),
            f"{failed} of {total} digest(s) this week failed"
            if total
            else "no digest this week yet",
        )
    ]


def check_sources(now) -> list[CheckResult]:
    results = []
    limit = settings.HEALTH_SOURCE_FAILURES_FAILING
    for source in OpportunitySource.objects.filter(enabled=True).order_by("name"):
        name = f"source: {source.name}"
        silent_after = source.fetch_interval * settings.HEALTH_SOURCE_SILENT_INTERVALS
        reference = source.last_success_at or source.created_at
        if source.consecutive_failures >= limit:
            results.append(
                CheckResult(
                    name,
                    FAILING,
                    f"{source.consecutive_failures} failures",
                    f"{source.consecutive_failures} failures in a row: {source.last_error}"[:300],
                )
            )
        elif now - reference > silent_after:
            results.append(
                CheckResult(
                    name,
                    WARNING,
                    f"{(now - reference).total_seconds() / 3600:.0f} h",
                    f"no successful fetch for {(now - reference).total_seconds() / 3600:.0f} h",
                )
            )
        elif source.consecutive_failures:
            results.append(
                CheckResult(
                    name,
                    WARNING,
                    f"{source.consecutive_failures} failures",
                    f"last fetch failed: {source.last_error}"[:300],
                )
            )
        else:
            results.append(CheckResult(name, OK, "ok", "fetched fine"))
    return results


CHECKS = [check_digests, check_sources]
