from django.conf import settings
from django.db import models


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
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
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

    @property
    def is_entitled(self) -> bool:
        return self.status in self.ENTITLED_STATUSES
