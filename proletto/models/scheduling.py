"""Models of the scheduling runtime (proletto/scheduling): lease, instances, run requests."""

from django.db import models


class SchedulerLease(models.Model):
    """Who leads the schedulers: one row, renewed by conditional UPDATE by its holder.

    `heartbeat_at` is written on every renewal; /healthz goes 503 when it is stale.
    """

    name = models.CharField(max_length=50, primary_key=True)
    holder = models.CharField(max_length=200, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name}: {self.holder or 'nobody'}"


class SchedulerInstance(models.Model):
    """Every running `runapscheduler` process, leader or standby, seen at its last beat: how
    the status page knows how many standbys are ready to take over."""

    class Kind(models.TextChoices):
        SCHEDULER = "scheduler"
        # A `manage.py runjob` process beats while its job runs, so its run is not taken
        # for an orphan; it is no standby.
        RUNJOB = "runjob"

    holder = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SCHEDULER)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return self.holder


class RunRequest(models.Model):
    """A 'run now' asked for from the admin (or another app); the leader executes it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        CLAIMED = "claimed"
        DONE = "done"
        FAILED = "failed"

    job = models.ForeignKey(
        "django_apscheduler.DjangoJob", on_delete=models.CASCADE, related_name="run_requests"
    )
    requested_by = models.CharField(max_length=200)
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    execution = models.ForeignKey(
        "django_apscheduler.DjangoJobExecution",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["requested_at"],
                condition=models.Q(status="pending"),
                name="runrequest_pending",
            )
        ]

    def __str__(self):
        return f"run {self.job_id} ({self.status})"


class JobRun(models.Model):
    """What django-apscheduler's DjangoJobExecution (not ours to change) does not say about a
    run: which process owns it (so a run whose process died can be told from one still going),
    why it ran, and what it returned."""

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled"
        CAUGHT_UP = "caught_up", "caught up"
        REQUESTED = "requested"
        COMMAND = "command", "runjob command"

    execution = models.OneToOneField(
        "django_apscheduler.DjangoJobExecution",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="run",
    )
    holder = models.CharField(max_length=200, db_index=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    requested_by = models.CharField(max_length=200, blank=True)
    result = models.JSONField(null=True, blank=True)

    def __str__(self):
        return f"run {self.execution_id} by {self.holder} ({self.trigger})"
