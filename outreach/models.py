from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.template import TemplateDoesNotExist
from django.template.loader import get_template


def validate_email_template(value: str) -> None:
    for part in ("subject.txt", "body.txt"):
        try:
            get_template(f"email/{value}/{part}")
        except TemplateDoesNotExist:
            raise ValidationError(
                "No email template templates/email/%(value)s/%(part)s.",
                code="unknown_template",
                params={"value": value, "part": part},
            ) from None


class Category(models.TextChoices):
    TRANSACTIONAL = "transactional", "Transactional"
    UPSELL = "upsell", "Upsell"
    DIGEST = "digest", "Digest"
    ALERT = "alert", "Alert"


# Email people can refuse: one consent model (the user's unsubscribe, suppressions) covers
# them all, checked when queued and when sent. Transactional mail and alerts stay outside it.
MARKETING_CATEGORIES = frozenset({Category.DIGEST, Category.UPSELL})


class EmailOutbox(models.Model):
    """One email on its way out: every email Proletto sends is a row here first."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        RETRY = "retry", "Failed, will retry"
        DEAD = "dead", "Dead"
        CANCELLED = "cancelled", "Cancelled"
        SUPPRESSED = "suppressed", "Suppressed"

    class Delivery(models.TextChoices):
        # The latest delivery state reported by the ESP (by event time).
        NONE = "", "—"
        DEFERRED = "deferred", "Deferred"
        DELIVERED = "delivered", "Delivered"
        BOUNCED = "bounced", "Bounced"
        REJECTED = "rejected", "Rejected by ESP"
        COMPLAINED = "complained", "Complained"

    # Statuses the relay picks up when next_attempt_at has come.
    DUE_STATUSES = (Status.QUEUED, Status.RETRY)
    FINAL_STATUSES = (Status.SENT, Status.DEAD, Status.CANCELLED, Status.SUPPRESSED)

    recipient = models.EmailField(max_length=254)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbox_emails",
    )
    subject = models.CharField(max_length=998)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    template = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=20, choices=Category)
    priority = models.SmallIntegerField(default=0, help_text="Higher goes out first.")
    idempotency_key = models.CharField(max_length=255, unique=True)

    status = models.CharField(max_length=12, choices=Status, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    bodies_dropped_at = models.DateTimeField(null=True, blank=True)

    esp_name = models.CharField(max_length=40, blank=True)
    esp_message_id = models.CharField(max_length=255, blank=True)

    delivery_status = models.CharField(
        max_length=12, choices=Delivery, default=Delivery.NONE, blank=True
    )
    delivery_status_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True, help_text="First open.")
    clicked_at = models.DateTimeField(null=True, blank=True, help_text="First click.")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "outbox email"
        verbose_name_plural = "email outbox"
        indexes = [
            # Two indexes of the rows waiting to be sent, for the relay's claim (the first due
            # rows by priority, then due time) and the health checks. With a backlog due, the
            # claim reads the rows it takes from the one in its order; the one on the due time
            # alone would make it sort the whole backlog (8 ms a claim at 10,000 due rows).
            # When few rows are due and many retries wait for later, the one on the due time
            # stops at now, where the ordered one would walk every waiting retry.
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_due_idx",
                condition=Q(status__in=["queued", "retry"]),
            ),
            models.Index(
                fields=["-priority", "next_attempt_at", "id"],
                name="outbox_due_order_idx",
                condition=Q(status__in=["queued", "retry"]),
            ),
            models.Index(
                fields=["claimed_at"], name="outbox_sending_idx", condition=Q(status="sending")
            ),
            models.Index(
                fields=["esp_message_id"],
                name="outbox_esp_message_idx",
                condition=~Q(esp_message_id=""),
            ),
            models.Index(fields=["status", "sent_at"], name="outbox_status_sent_idx"),
            models.Index(fields=["recipient"], name="outbox_recipient_idx"),
        ]

    def __str__(self):
        return f"{self.subject} → {self.recipient} ({self.status})"


class EmailEvent(models.Model):
    """A delivery event reported by the ESP, kept once per event id."""

    esp_name = models.CharField(max_length=40)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=30)
    occurred_at = models.DateTimeField()
    recipient = models.CharField(max_length=254, blank=True)
    esp_message_id = models.CharField(max_length=255, blank=True)
    outbox = models.ForeignKey(
        EmailOutbox, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    description = models.TextField(blank=True)
    reject_reason = models.CharField(
        max_length=20, blank=True, help_text="Anymail's reason for a bounce: blocked, bounced..."
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["esp_name", "event_id"], name="email_event_unique_id")
        ]
        indexes = [
            models.Index(fields=["received_at"], name="email_event_received_idx"),
            # Soft bounces of one address in a window, counted on every new one.
            models.Index(fields=["recipient", "occurred_at"], name="email_event_recipient_idx"),
        ]

    def __str__(self):
        return f"{self.event_type} {self.recipient} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Suppression(models.Model):
    """An address Proletto must not email: for every category, for all marketing (an
    unsubscribe), or for one category; for good, or until expires_at (soft bounces)."""

    ALL_CATEGORIES = ""
    MARKETING = "marketing"

    address = models.EmailField(max_length=254, help_text="Stored lower-case.")
    category = models.CharField(
        max_length=20,
        choices=[("", "All categories"), (MARKETING, "All marketing"), *Category.choices],
        blank=True,
        default=ALL_CATEGORIES,
    )
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: for good. Set: lifts by itself at this time."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["address", "category"], name="suppression_unique_address_category"
            )
        ]

    def __str__(self):
        return f"{self.address} ({self.get_category_display()})"

    def clean(self):
        self.address = (self.address or "").strip().lower()


class UpsellSequence(models.Model):
    """A series of emails sent to a free user after a trigger, until they convert or it ends."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    duration = models.DurationField(help_text="Deadline after the session starts (e.g. 14 days).")

    def __str__(self):
        return self.name


class UpsellStep(models.Model):
    sequence = models.ForeignKey(UpsellSequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    delay = models.DurationField(help_text="After the session starts, e.g. 3 days.")
    template = models.CharField(
        max_length=200,
        validators=[validate_email_template],
        help_text="Folder under templates/email/, e.g. upsell_welcome.",
    )

    class Meta:
        ordering = ["sequence", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["sequence", "position"], name="upsell_step_unique_position"
            )
        ]

    def __str__(self):
        return f"{self.sequence} · step {self.position} ({self.template})"


class UpsellSession(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CONVERTED = "converted", "Converted"
        EXPIRED = "expired", "Expired"
        COMPLETED = "completed", "Completed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upsell_sessions"
    )
    sequence = models.ForeignKey(UpsellSequence, on_delete=models.PROTECT, related_name="sessions")
    started_at = models.DateTimeField()
    deadline = models.DateTimeField()
    current_step = models.PositiveSmallIntegerField(
        default=0, help_text="How many steps have been queued so far."
    )
    last_step_at = models.DateTimeField(
        null=True, blank=True, help_text="When the latest step was queued."
    )
    status = models.CharField(max_length=10, choices=Status, default=Status.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "sequence"],
                condition=Q(status="active"),
                name="upsell_session_one_active",
            )
        ]
        indexes = [
            models.Index(
                fields=["deadline"], name="upsell_active_idx", condition=Q(status="active")
            )
        ]

    def __str__(self):
        return f"{self.user} · {self.sequence} ({self.status})"
