import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone

from billing import periods


class Plan(models.Model):
    """A product tier: free, pro, ... with the credits it grants each month."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    monthly_credits = models.PositiveIntegerField(default=0)
    is_pro = models.BooleanField(
        default=False, help_text="Pro plans get the weekly digest and the Pro features."
    )
    stripe_price_ids = models.JSONField(
        default=list, blank=True, help_text="Stripe price ids that map to this plan."
    )

    def __str__(self):
        return self.name


class Subscription(models.Model):
    class Interval(models.TextChoices):
        MONTHLY = "monthly", "Monthly"
        YEARLY = "yearly", "Yearly"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        TRIALING = "trialing", "Trialing"
        PAST_DUE = "past_due", "Past due"
        UNPAID = "unpaid", "Unpaid"
        INCOMPLETE = "incomplete", "Incomplete"
        PAUSED = "paused", "Paused"
        CANCELED = "canceled", "Canceled"

    # Statuses in which a subscriber has the plan's features (and credits).
    ENTITLED_STATUSES = (Status.ACTIVE, Status.TRIALING)

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    interval = models.CharField(max_length=10, choices=Interval, default=Interval.MONTHLY)
    status = models.CharField(max_length=20, choices=Status, default=Status.ACTIVE)
    credits_balance = models.IntegerField(default=0)
    billing_anchor = models.DateTimeField(help_text="Start of the first paid period.")
    last_credit_reset_at = models.DateTimeField(null=True, blank=True)
    next_credit_reset_at = models.DateTimeField(null=True, blank=True, db_index=True)
    credits_period_start = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Start of the period the current credits were granted for.",
    )
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    stripe_synced_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="`created` of the last Stripe subscription event applied; older are ignored.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_subscription_id"],
                condition=~models.Q(stripe_subscription_id=""),
                name="subscription_unique_stripe_id",
            )
        ]

    def __str__(self):
        return f"{self.user} · {self.plan} ({self.interval}, {self.status})"

    def save(self, *args, **kwargs):
        # Rows that never had a reset start counting from the period they were created in.
        if self.next_credit_reset_at is None and self.billing_anchor is not None:
            self.next_credit_reset_at = self.next_reset_at(timezone.now())
        super().save(*args, **kwargs)

    @property
    def is_entitled(self) -> bool:
        return self.status in self.ENTITLED_STATUSES

    def credit_period_start(self, at) -> dt.datetime:
        """Start of the monthly credit period containing `at` (anchor + n months)."""
        return periods.period_start(self.billing_anchor, at)

    def next_reset_at(self, at) -> dt.datetime:
        """When the monthly credit period after the one containing `at` starts."""
        return periods.next_period_start(self.billing_anchor, at)


class CreditLedgerEntry(models.Model):
    """One change to a subscription's credits. `amount` is the signed change to the balance, so
    the entries of a subscription add up to its balance."""

    class Kind(models.TextChoices):
        GRANT = "grant", "Grant"
        RESET = "reset", "Monthly reset"
        CONSUMPTION = "consumption", "Consumption"

    class Source(models.TextChoices):
        JOB = "job", "Scheduled job"
        WEBHOOK = "webhook", "Stripe webhook"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Management command"
        APP = "app", "Application"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="ledger_entries"
    )
    kind = models.CharField(max_length=20, choices=Kind)
    amount = models.IntegerField()
    balance_after = models.IntegerField()
    period_start = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "credit ledger entries"
        ordering = ["-created_at", "-id"]
        constraints = [
            # The last line of defence: whatever path races (job, webhook, admin, command),
            # one subscription gets one reset per period.
            models.UniqueConstraint(
                fields=["subscription", "period_start"],
                condition=models.Q(kind="reset"),
                name="credit_reset_once_per_period",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="reset") | models.Q(period_start__isnull=False),
                name="credit_reset_has_period",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount:+d} → {self.balance_after}"


class StripeEvent(models.Model):
    """Every Stripe event id we accepted, once: a redelivery of a processed or ignored event
    finds its id here and does nothing; one that needs attention is tried again."""

    class State(models.TextChoices):
        PROCESSED = "processed", "Processed"
        # Not ours (a subscription that belongs to no user): answered 200 so Stripe stops.
        IGNORED = "ignored", "Ignored"
        # Could not be applied (period unknown, Stripe unreachable, no key): kept with its
        # payload so it can be processed again from the admin once the cause is fixed.
        NEEDS_ATTENTION = "needs_attention", "Needs attention"

    # States whose redelivery is a no-op; the admin can still process them again.
    FINAL_STATES = (State.PROCESSED, State.IGNORED)

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField(help_text="The event's `created` at Stripe.")
    received_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=20, choices=State, default=State.PROCESSED)
    outcome = models.CharField(max_length=255, blank=True)
    payload = models.JSONField(
        null=True,
        blank=True,
        help_text="The event as Stripe sent it, kept while it is ignored or needs attention.",
    )
    attempts = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [("process_stripe_event", "Can process a Stripe event again")]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=models.Q(state="needs_attention"),
                name="stripe_event_attention_idx",
            )
        ]

    def __str__(self):
        return f"{self.event_id} ({self.type})"
