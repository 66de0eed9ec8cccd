"""Admin for the job store and its history (replaces django-apscheduler's stock admin).

Nothing in the web request runs a job: "run now" records a request the leader executes, and
next_run_time / the stored trigger cannot be edited (a hand edit used to make the stock
scheduler spin).
"""

import datetime as dt
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.admin_display import admin_datetime, short_text
from proletto.models import RunRequest
from proletto.scheduling import charts
from proletto.scheduling.charts import OUTCOME_COLOURS
from proletto.scheduling.jobstore import job_pause, job_request_run, job_resume
from proletto.scheduling.registry import SchedulingError, declared_jobs, describe_trigger
from proletto.scheduling.selectors import jobs_with_stats, scheduler_status
from proletto.scheduling.trigger_spec import UnreadableJobState, stored_trigger

admin.site.unregister(DjangoJob)
admin.site.unregister(DjangoJobExecution)

ALL_STATUSES = list(OUTCOME_COLOURS)
# Declared on RunRequest (DjangoJob is django-apscheduler's model, not ours).
RUN_JOB = "proletto.run_job"
PAUSE_JOB = "proletto.pause_job"


def _trigger_of(job: DjangoJob):
    try:
        return stored_trigger(job.id, job.job_state)
    except UnreadableJobState:  # the scheduler skips it; its next sync writes it anew
        return None


def _runs_url(job_id: str) -> str:
    return (
        reverse("admin:django_apscheduler_djangojobexecution_changelist")
        + "?"
        + urlencode({"job__id__exact": job_id})
    )


@admin.register(DjangoJob)
class JobAdmin(admin.ModelAdmin):
    """The job list, and a job page in the manner of django-celery-beat / Oban Web: what the
    job does, its state, run now / pause / resume buttons, a chart and table of recent runs."""

    list_display = (
        "id",
        "description",
        "schedule",
        "state",
        "next_run",
        "last_run_status",
        "last_success",
        "average_duration",
        "recent_runs",
    )
    search_fields = ("id",)
    ordering = ("id",)
    actions = ("run_now", "pause", "resume")

    def get_queryset(self, request):
        return jobs_with_stats(super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Jobs are declared in code (jobs.py); deleting the row would silently stop the job
        # and drop its history. Pause it instead.
        return False

    def has_change_permission(self, request, obj=None):
        # Nothing on a job is edited by hand; the buttons and actions call the services.
        return False

    def has_run_permission(self, request):
        return request.user.has_perm(RUN_JOB)

    def has_pause_permission(self, request):
        return request.user.has_perm(PAUSE_JOB)

    def get_urls(self):
        def control(view, name):
            return path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(require_POST(view)),
                name=f"django_apscheduler_djangojob_{name}",
            )

        return [
            control(self.run_view, "run"),
            control(self.pause_view, "pause"),
            control(self.resume_view, "resume"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            self._warn_without_scheduler(request)
        return super().changelist_view(request, extra_context)

    def _warn_without_scheduler(self, request):
        if not scheduler_status(with_jobs=False)["alive"]:
            self.message_user(
                request,
                "No scheduler is running (no fresh leader heartbeat): jobs are not being "
                "run. Start `manage.py runapscheduler`.",
                messages.WARNING,
            )

    # --- the job page ---------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, unquote(object_id))
        if job is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        self._warn_without_scheduler(request)
        runs = list(reversed(job.recent_runs))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Job {job.id}",
            "subtitle": None,
            "opts": self.opts,
            "original": job,
            "job": job,
            "description": self.description(job),
            "schedule": self.schedule(job),
            "state": self.state(job),
            "paused": job.next_run_time is None,
            "next_run": admin_datetime(job.next_run_time),
            "last_success": admin_datetime(job.last_success),
            "average_duration": self.average_duration(job),
            "chart": charts.run_chart(runs),
            "legend": charts.outcome_legend(),
            "runs": [self.run_row(run) for run in reversed(runs)],
            "runs_url": _runs_url(job.id),
            "can_run": self.has_run_permission(request),
            "can_pause": self.has_pause_permission(request),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/scheduling/job_page.html", context)

    def run_row(self, run) -> dict:
        """One row of the job page's run table, with what the run's JobRun says: why it ran
        (scheduled, caught up, requested and by whom) and what the job returned."""
        record = getattr(run, "run", None)  # None for runs recorded before JobRun existed
        return {
            "id": run.pk,
            "run_time": admin_datetime(run.run_time),
            "status": run.status,
            "colour": OUTCOME_COLOURS.get(run.status, "#000"),
            "duration": f"{float(run.duration):.2f} s" if run.duration is not None else "-",
            "error": (run.exception or "")[:200],
            "result": _result_summary(record.result) if record else "",
            "trigger": _trigger_summary(record) if record else "",
        }

    def _control(self, request, object_id, allowed, act):
        if not allowed:
            raise PermissionDenied
        job_id = unquote(object_id)
        try:
            message = act(job_id)
            self.message_user(request, message, messages.SUCCESS)
        except SchedulingError as exc:
            self.message_user(request, f"Not done: {exc}", messages.ERROR)
        return redirect("admin:django_apscheduler_djangojob_change", quote(job_id))

    def run_view(self, request, object_id):
        def act(job_id):
            job_request_run(job_id=job_id, requested_by=request.user.get_username())
            return (
                f"Asked the scheduler to run {job_id}; it starts within a few seconds and "
                "shows in the runs below."
            )

        return self._control(request, object_id, self.has_run_permission(request), act)

    def pause_view(self, request, object_id):
        def act(job_id):
            job_pause(job_id=job_id)
            return f"Paused {job_id}: it will not run until resumed."

        return self._control(request, object_id, self.has_pause_permission(request), act)

    def resume_view(self, request, object_id):
        def act(job_id):
            job = job_resume(job_id=job_id)
            return f"Resumed {job_id}; next run {admin_datetime(job.next_run_time)}."

        return self._control(request, object_id, self.has_pause_permission(request), act)

    # --- columns --------------------------------------------------------------------------

    @admin.display(description="does")
    def description(self, job):
        declared = declared_jobs().get(job.id)
        return declared.description if declared else "no longer declared"

    @admin.display(description="schedule")
    def schedule(self, job):
        trigger = _trigger_of(job)
        return describe_trigger(trigger) if trigger else "unreadable job state"

    @admin.display(description="state")
    def state(self, job):
        if _trigger_of(job) is None:
            return format_html(
                '<strong class="job-state job-unreadable">{}</strong>',
                "Unreadable: skipped until a scheduler restarts and writes it anew",
            )
        if job.next_run_time is None:
            return format_html('<strong class="job-state job-paused">{}</strong>', "Paused")
        return format_html('<span class="job-state job-scheduled">{}</span>', "Scheduled")

    @admin.display(description="next run", ordering="next_run_time")
    def next_run(self, job):
        return admin_datetime(job.next_run_time) if job.next_run_time else "-"

    @admin.display(description="last run")
    def last_run_status(self, job):
        if not job.last_status:
            return "never ran"
        return format_html(
            '<span style="color:{}">{}</span> {}',
            OUTCOME_COLOURS.get(job.last_status, "#000"),
            job.last_status,
            admin_datetime(job.last_run_time),
        )

    @admin.display(description="last success", ordering="last_success")
    def last_success(self, job):
        return admin_datetime(job.last_success) if job.last_success else "never"

    @admin.display(description="avg duration", ordering="avg_duration")
    def average_duration(self, job):
        return f"{job.avg_duration:.2f} s" if job.avg_duration is not None else "-"

    @admin.display(description="recent runs")
    def recent_runs(self, job):
        return charts.recent_runs_sparkline(job)

    # --- bulk actions (the same services as the buttons) ------------------------------------

    @admin.action(description="Run selected jobs now (by the scheduler)", permissions=["run"])
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

    @admin.action(description="Pause selected jobs", permissions=["pause"])
    def pause(self, request, queryset):
        for job in queryset:
            job_pause(job_id=job.id)
        self.message_user(request, f"Paused {queryset.count()} job(s).", messages.SUCCESS)

    @admin.action(description="Resume selected jobs", permissions=["pause"])
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
        return short_text(execution.exception, 120)


@admin.register(RunRequest)
class RunRequestAdmin(admin.ModelAdmin):
    @admin.display(description="execution", ordering="execution")
    def execution_link(self, run_request):
        # By id: an execution's own __str__ repeats the job, status and time in one long line.
        if run_request.execution_id is None:
            return "-"
        return format_html(
            '<a href="{}">#{}</a>',
            reverse(
                "admin:django_apscheduler_djangojobexecution_change",
                args=[run_request.execution_id],
            ),
            run_request.execution_id,
        )

    list_display = (
        "id",
        "job_id",
        "requested_by",
        "requested_at",
        "status",
        "claimed_by",
        "execution_link",
    )
    list_filter = ("status", ("job__id", JobFilter))
    list_select_related = ("job", "execution")
    ordering = ("-requested_at",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _trigger_summary(record) -> str:
    label = record.get_trigger_display()
    return f"{label} by {record.requested_by}" if record.requested_by else label


def _result_summary(result) -> str:
    if isinstance(result, dict):
        return " ".join(f"{key}={value}" for key, value in result.items())
    return "" if result is None else str(result)
