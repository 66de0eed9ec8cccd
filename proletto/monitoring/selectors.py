"""Reads for the status page, /admin/system and /healthz."""

from proletto.models import CheckStatus, HealthAlert, HealthCheckState
from proletto.scheduling.selectors import scheduler_status

STATUS_ORDER = {CheckStatus.FAILING: 0, CheckStatus.WARNING: 1, CheckStatus.OK: 2}


NOT_CHECKED_YET = "not checked yet"


def checks_summary() -> dict:
    """The last stored state of every check: the overall state ('failing', 'warning', 'ok',
    or 'not checked yet' before the first run), counts, and the names not OK."""
    states = list(HealthCheckState.objects.values_list("name", "status", "checked_at"))
    warning = sorted(name for name, status, _ in states if status == CheckStatus.WARNING)
    failing = sorted(name for name, status, _ in states if status == CheckStatus.FAILING)
    if not states:
        state = NOT_CHECKED_YET
    else:
        state = (
            CheckStatus.FAILING if failing else CheckStatus.WARNING if warning else CheckStatus.OK
        )
    return {
        "state": str(state),
        "checked_at": max((c for _, _, c in states), default=None),
        "ok": sum(status == CheckStatus.OK for _, status, _ in states),
        "warning": warning,
        "failing": failing,
    }


def overall_state() -> dict:
    """For the admin index badge: the checks' state, and whether a scheduler leads."""
    summary = checks_summary()
    return {"checks": summary, "scheduler": scheduler_status(with_jobs=False)}


def check_states() -> list[HealthCheckState]:
    """Every check, worst first, then by name."""
    return sorted(HealthCheckState.objects.all(), key=lambda s: (STATUS_ORDER[s.status], s.name))


def recent_alerts(limit: int = 20) -> list[HealthAlert]:
    return list(HealthAlert.objects.order_by("-created_at")[:limit])
