"""The maintenance bot: run the checks, keep their history, tell the admins what changed.

Alerts go to settings.ADMINS through the outbox, one email per admin per change: a check that
starts failing, and its recovery. A check that flaps is rate-limited: after an alert, the
next one for that check waits HEALTH_ALERT_MIN_INTERVAL_SECONDS and then says where the check
has settled (or nothing, if it is back where it was last reported).
"""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from proletto.models import CheckStatus, HealthAlert, HealthCheckResult, HealthCheckState
from proletto.monitoring.registry import alert_senders, run_checks
from proletto.monitoring.results import CheckResult

logger = logging.getLogger("proletto.monitoring")


def _alert_level(status: str) -> str:
    # Admins are emailed about failing and about leaving it; warnings show on the status page.
    return "failing" if status == CheckStatus.FAILING else "fine"


def health_run(*, now=None) -> dict:
    """One maintenance bot pass: checks, history, state changes and alerts."""
    now = now or timezone.now()
    results = run_checks(now)
    with transaction.atomic():
        HealthCheckResult.objects.bulk_create(
            [
                HealthCheckResult(
                    name=r.name, status=r.status, value=r.value, summary=r.summary, checked_at=now
                )
                for r in results
            ]
        )
        states = {
            state.name: state
            for state in HealthCheckState.objects.select_for_update().filter(
                name__in=[r.name for r in results]
            )
        }
        alerts = []
        for result in results:
            state = states.get(result.name)
            if state is None:
                state = HealthCheckState(
                    name=result.name,
                    status=result.status,
                    since=now,
                    alerted_status=CheckStatus.OK,
                )
                states[result.name] = state
            elif state.status != result.status:
                state.status, state.since = result.status, now
            state.value, state.summary, state.checked_at = result.value, result.summary, now
            if _should_alert(state, now):
                alerts.append(_alert(state, result, now))
        HealthCheckState.objects.bulk_create(
            [state for state in states.values() if state._state.adding]
        )
        HealthCheckState.objects.bulk_update(
            [state for state in states.values() if not state._state.adding],
            ["status", "since", "value", "summary", "checked_at", "alerted_status", "alerted_at"],
        )
        # Checks that no longer exist (a removed job or source) leave the status page.
        HealthCheckState.objects.exclude(name__in=[r.name for r in results]).delete()
    pruned = health_prune(now=now)
    counts = {
        "checks": len(results),
        "ok": sum(r.status == CheckStatus.OK for r in results),
        "warning": sum(r.status == CheckStatus.WARNING for r in results),
        "failing": sum(r.status == CheckStatus.FAILING for r in results),
        "alerts": len(alerts),
        "pruned": pruned,
    }
    return counts


def _should_alert(state: HealthCheckState, now) -> bool:
    if _alert_level(state.status) == _alert_level(state.alerted_status):
        return False
    interval = dt.timedelta(seconds=settings.HEALTH_ALERT_MIN_INTERVAL_SECONDS)
    return state.alerted_at is None or now - state.alerted_at >= interval


def _alert(state: HealthCheckState, result: CheckResult, now) -> HealthAlert:
    alert = HealthAlert.objects.create(
        name=state.name,
        from_status=state.alerted_status,
        to_status=state.status,
        summary=result.summary,
        created_at=now,
    )
    context = {
        "check": state.name,
        "status": state.get_status_display(),
        "recovered": state.status != CheckStatus.FAILING,
        "summary": result.summary,
        "value": result.value,
        "since": state.since,
        "status_url": settings.SITE_URL + "/admin/system/status/",
    }
    alert.recipients = sum(send(alert=alert, context=context) for send in alert_senders())
    alert.save(update_fields=["recipients"])
    state.alerted_status, state.alerted_at = state.status, now
    logger.warning("health alert: %s is %s: %s", state.name, state.status, result.summary)
    return alert


def health_prune(*, now=None, batch_size: int = 5000) -> int:
    """Delete check results and alerts older than HEALTH_RESULT_RETENTION_DAYS, in batches."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.HEALTH_RESULT_RETENTION_DAYS)
    deleted = 0
    for model, field in ((HealthCheckResult, "checked_at"), (HealthAlert, "created_at")):
        while True:
            ids = list(
                model.objects.filter(**{f"{field}__lt": cutoff}).values_list("pk", flat=True)[
                    :batch_size
                ]
            )
            if not ids:
                break
            deleted += model.objects.filter(pk__in=ids).delete()[0]
    return deleted
