"""The inbox: every authenticated webhook request, stored raw before anything is applied."""

from django.db import models
from django.db.models import Q


class InboundEvent(models.Model):
    """One authenticated webhook request (a Stripe event, a batch of ESP events), kept raw.

    The request is answered once this row is committed; `process_inbox` applies it later
    through the handler its app registered for `source` (proletto/inbox/registry.py).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed (will retry)"
        REJECTED = "rejected", "Rejected (payload)"
        HELD = "held", "Held (needs a fix and a replay)"

    # States `process_inbox` picks up when next_attempt_at has come (a processing row whose
    # claim expired belongs to a process that died mid-apply).
    DUE_STATES = (State.PENDING, State.FAILED, State.PROCESSING)
    # States an operator may replay.
    REPLAYABLE_STATES = (State.FAILED, State.HELD, State.REJECTED, State.APPLIED)

    source = models.CharField(
        max_length=100, help_text='e.g. "stripe", "anymail:sendgrid:tracking"'
    )
    kind = models.CharField(max_length=100, blank=True, help_text="e.g. the Stripe event type")
    external_id = models.CharField(max_length=255, blank=True, help_text="e.g. the Stripe event id")
    # A redelivery of a request already stored (same event id, or the same body) is stored once.
    dedupe_key = models.CharField(max_length=255)
    body = models.BinaryField()
    headers = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField()
    signature = models.CharField(max_length=255, help_text="how the request was authenticated")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    outcome = models.CharField(max_length=255, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        permissions = [("replay_inboundevent", "Can replay inbound webhook events")]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "dedupe_key"], name="inbound_event_stored_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="inbound_event_due",
                condition=Q(state__in=["pending", "failed", "processing"]),
            ),
            models.Index(fields=["state", "received_at"], name="inbound_event_state"),
            models.Index(fields=["source", "kind"], name="inbound_event_source_kind"),
        ]

    def __str__(self):
        return f"{self.source} {self.kind or ''} #{self.pk} ({self.state})".replace("  ", " ")

    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")
