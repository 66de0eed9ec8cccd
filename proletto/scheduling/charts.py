"""SVG charts of a job's recent runs: bar height is the run's duration, colour its outcome.

A sparkline for lists, and a labelled chart for the job page (axis with the longest duration,
one bar per run, oldest on the left, each bar's tooltip giving time, outcome and duration).
"""

from django.utils.html import format_html, format_html_join

from proletto.admin_display import admin_datetime
from proletto.scheduling.statuses import (
    EXECUTED,
    FAILED,
    INTERRUPTED,
    MAX_INSTANCES,
    MISSED,
    STARTED,
)

OUTCOME_COLOURS = {
    EXECUTED: "#2e7d32",
    FAILED: "#c62828",
    MISSED: "#9e9e9e",
    MAX_INSTANCES: "#9e9e9e",
    INTERRUPTED: "#ef6c00",
    STARTED: "#1565c0",
}


def _bars(runs, *, slot: int, width: int, top: int, height: int, left: int = 0):
    longest = max((float(run.duration or 0) for run in runs), default=0) or 1.0
    return format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" data-status="{}">'
        "<title>{}</title></rect>",
        (
            (
                left + index * slot,
                top + height - bar,
                width,
                bar,
                OUTCOME_COLOURS.get(run.status, "#000"),
                run.status,
                f"{admin_datetime(run.run_time)}: {run.status}, "
                + (f"{float(run.duration):.2f} s" if run.duration is not None else "no duration"),
            )
            for index, run in enumerate(runs)
            for bar in [max(3, round(height * float(run.duration or 0) / longest))]
        ),
    )


def run_sparkline(runs) -> str:
    """Oldest first; 7 px per run, 20 px high."""
    if not runs:
        return "-"
    return format_html(
        '<svg class="run-chart" width="{}" height="20" role="img" aria-label="recent runs">'
        "{}</svg>",
        len(runs) * 7,
        _bars(runs, slot=7, width=5, top=2, height=18),
    )


def recent_runs_sparkline(job) -> str:
    """The sparkline of a job fetched with its `recent_runs` (scheduling.selectors), oldest
    first."""
    return run_sparkline(list(reversed(getattr(job, "recent_runs", None) or [])))


def run_chart(runs) -> str:
    """The job page's chart: 28 px per run, 140 px of bars, an axis labelled in seconds."""
    if not runs:
        return format_html('<p class="run-chart-empty">{}</p>', "No run recorded yet.")
    longest = max(float(run.duration or 0) for run in runs)
    left, slot, height = 64, 28, 140
    return format_html(
        '<svg class="run-chart run-chart-large" width="{}" height="{}" role="img" '
        'aria-label="durations and outcomes of the last {} runs">'
        '<line x1="{}" y1="10" x2="{}" y2="{}" stroke="#999"></line>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"></line>'
        '<text x="{}" y="18" text-anchor="end" font-size="11" fill="currentColor">{}</text>'
        '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="currentColor">0 s</text>'
        "{}</svg>",
        left + len(runs) * slot + 8,
        height + 30,
        len(runs),
        left - 4,
        left - 4,
        height + 10,
        left - 4,
        height + 10,
        left + len(runs) * slot,
        height + 10,
        left - 8,
        f"{longest:.2f} s",
        left - 8,
        height + 10,
        _bars(runs, slot=slot, width=20, top=10, height=height, left=left),
    )


def outcome_legend() -> str:
    return format_html_join(
        " ",
        '<span class="run-outcome"><span style="display:inline-block;width:10px;height:10px;'
        'background:{}"></span> {}</span>',
        ((colour, status) for status, colour in OUTCOME_COLOURS.items()),
    )
