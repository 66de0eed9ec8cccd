"""How the admin shows values in lists: instants in TIME_ZONE in the one format of
proletto/formats; long text cut, whole in its tooltip."""

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html


def admin_datetime(value) -> str:
    if value is None:
        return "-"
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


def short_text(value, length: int) -> str:
    if not value:
        return "-"
    shown = value if len(value) <= length else value[: length - 1] + "…"
    return format_html('<span class="short-text" title="{}">{}</span>', value, shown)
