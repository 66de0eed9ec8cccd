"""Admin for the job store and its history (replaces django-apscheduler's stock admin).

Nothing in the web request runs a job: "run now" records a request the leader executes, and
next_run_time / the pickled state cannot be edited (a hand edit used to make the stock
scheduler spin).
"""

import datetime as dt

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import RunRequest
from proletto.scheduling.jobstore import job_pause, job_request_run, job_resume, job_state_load
from proletto.scheduling.registry import SchedulingError, declared_jobs, describe_trigger
from proletto.scheduling.selectors import jobs_with_stats, scheduler_status
from proletto.scheduling.statuses import (
    EXECUTED,
    FAILED,
    INTERRUPTED,
    MAX_INSTANCES,
    MISSED,
    STARTED,
)

admin.site.unregister(DjangoJob)
admin.site.unregister(DjangoJobExecution)

STATUS_COLOURS = {
    EXECUTED: "#2e7d32",
    FAILED: "#c62828",
    MISSED: "#9e9e9e",
    MAX_INSTANCES: "#9e9e9e",
    INTERRUPTED: "#ef6c00",
    STARTED: "#1565c0",
}
ALL_STATUSES = list(STATUS_COLOURS)


def _trigger_of(job: DjangoJob):
    try:
        return job_state_load(job.job_state).trigger
    except Exception:  # a state pickled by code that no longer exists
        return None


@admin.register(DjangoJob)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "description",
        "schedule",
        "next_run",
        "last_run_status",
        "last_success",
        "average_duration",
        "recent_runs",
    )
    search_fields = ("id",)
    ordering = ("id",)
    fields = (
        "id",
        "description",
        "schedule",
        "next_run_time",
        "paused",
        "last_run_status",
        "recent_runs",
    )
    readonly_fields = fields
    actions = ("run_now", "pause", "resume")

    def get_queryset(self, request):
        return jobs_with_stats(super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Jobs are declared in code (jobs.py); deleting the row would silently stop the job
        # and drop its history. Pause it instead.
        return False

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            status = scheduler_status(with_jobs=False)
            if not status["alive"]:
                self.message_user(
                    request,
                    "No scheduler is running (no fresh leader heartbeat): jobs are not being "
                    "run. Start `manage.py runapscheduler`.",
                    messages.WARNING,
                )
        return super().changelist_view(request, extra_context)

    @admin.display(description="does")
    def description(self, job):
        declared = declared_jobs().get(job.id)
        return declared.description if declared else "no longer declared"

    @admin.display(description="schedule")
    def schedule(self, job):
        trigger = _trigger_of(job)
        return describe_trigger(trigger) if trigger else "unreadable job state"

    @admin.display(description="next run", ordering="next_run_time")
    def next_run(self, job):
        return job.next_run_time or "paused"

    @admin.display(boolean=True)
    def paused(self, job):
        return job.next_run_time is None

    @admin.display(description="last run")
    def last_run_status(self, job):
        if not job.last_status:
            return "never ran"
        return format_html(
            '<span style="color:{}">{}</span> {}',
            STATUS_COLOURS.get(job.last_status, "#000"),
            job.last_status,
            timezone.localtime(job.last_run_time).strftime("%Y-%m-%d %H:%M:%S"),
        )

    @admin.display(description="last success", ordering="last_success")
    def last_success(self, job):
        return job.last_success or "never"

    @admin.display(description="avg duration", ordering="avg_duration")
    def average_duration(self, job):
        return f"{job.avg_duration:.2f} s" if job.avg_duration is not None else "-"

    @admin.display(description="recent runs")
    def recent_runs(self, job):
        runs = list(reversed(getattr(job, "recent_runs", None) or []))
        if not runs:
            return "-"
        longest = max(float(run.duration or 0) for run in runs) or 1.0
        bars = format_html_join(
            "",
            '<rect x="{}" y="{}" width="5" height="{}" fill="{}"><title>{}</title></rect>',
            (
                (
                    index * 7,
                    20 - height,
                    height,
                    STATUS_COLOURS.get(run.status, "#000"),
                    f"{run.run_time:%Y-%m-%d %H:%M:%S} {run.status} {run.duration or '-'} s",
                )
                for index, run in enumerate(runs)
                for height in [max(3, round(18 * float(run.duration or 0) / longest))]
            ),
        )
        return format_html(
            '<svg class="run-chart" width="{}" height="20" role="img" '
            'aria-label="recent runs">{}</svg>',
            len(runs) * 7,
            bars,
        )

    @admin.action(description="Run selected jobs now (by the scheduler)")
    def run_now(self, request, queryset):
        requested, failed = [], []
        for job in queryset:
            try:
                job_request_run(job_id=job.id, requested_by=request.user.get_username())
                requested.append(job.id)
            except SchedulingError as exc:
                failed.append(str(exc))
        if requested:
            self.message_user(
                request,
                f"Asked the scheduler to run {', '.join(requested)}; it starts within a few "
                "seconds and shows in the execution history.",
                messages.SUCCESS,
            )
        for message in failed:
            self.message_user(request, f"Not run: {message}", messages.ERROR)

    @admin.action(description="Pause selected jobs")
    def pause(self, request, queryset):
        for job in queryset:
            job_pause(job_id=job.id)
        self.message_user(request, f"Paused {queryset.count()} job(s).", messages.SUCCESS)

    @admin.action(description="Resume selected jobs")
    def resume(self, request, queryset):
        for job in queryset:
            job_resume(job_id=job.id)
        self.message_user(request, f"Resumed {queryset.count()} job(s).", messages.SUCCESS)


class StatusFilter(admin.SimpleListFilter):
    # The stock field's choices list only three of the statuses the runtime writes.
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(status, status) for status in ALL_STATUSES]

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() else queryset


class JobFilter(admin.AllValuesFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "job"


@admin.register(DjangoJobExecution)
class JobExecutionAdmin(admin.ModelAdmin):
    list_display = ("id", "job_id", "status", "run_time", "started", "duration_s", "short_error")
    # By id: the job's own __str__ carries its next run time, noise in a filter.
    list_filter = (("job__id", JobFilter), StatusFilter)
    list_select_related = ("job",)
    date_hierarchy = "run_time"
    ordering = ("-run_time",)
    fields = (
        "job",
        "status",
        "run_time",
        "started",
        "finished_at",
        "duration_s",
        "exception",
        "traceback",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="duration", ordering="duration")
    def duration_s(self, execution):
        return f"{execution.duration} s" if execution.duration is not None else "-"

    @admin.display(description="finished")
    def finished_at(self, execution):
        if execution.finished is None:
            return "-"
        return dt.datetime.fromtimestamp(float(execution.finished), tz=dt.UTC)

    @admin.display(description="started")
    def started(self, execution):
        # The real start, not the scheduled time: a late run shows its true duration.
        if execution.finished is None or execution.duration is None:
            return "-"
        return dt.datetime.fromtimestamp(
            float(execution.finished) - float(execution.duration), tz=dt.UTC
        )

    @admin.display(description="error")
    def short_error(self, execution):
        return (execution.exception or "")[:80]


@admin.register(RunRequest)
class RunRequestAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "job",
        "requested_by",
        "requested_at",
        "status",
        "claimed_by",
        "execution",
    )
    list_filter = ("status", "job")
    list_select_related = ("job", "execution")
    ordering = ("-requested_at",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
