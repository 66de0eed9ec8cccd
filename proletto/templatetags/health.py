"""The overall health badge on the admin index, linking to the status page."""

from django import template

from proletto.monitoring.selectors import overall_state

register = template.Library()


@register.inclusion_tag("admin/health_badge.html")
def health_badge():
    state = overall_state()
    checks, scheduler = state["checks"], state["scheduler"]
    if checks["failing"] or not scheduler["alive"]:
        level = "failing"
    elif checks["warning"]:
        level = "warning"
    elif checks["state"] == "not checked yet":
        level = "unknown"
    else:
        level = "ok"
    return {"level": level, "checks": checks, "scheduler": scheduler}
