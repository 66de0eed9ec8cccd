from django.contrib import admin, messages

from billing.models import CreditLedgerEntry, Plan, StripeEvent, Subscription
from billing.services.credits import credits_reset
from billing.services.stripe_events import stripe_events_process_again


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "monthly_credits", "is_pro")
    prepopulated_fields = {"code": ("name",)}


class CreditLedgerInline(admin.TabularInline):
    model = CreditLedgerEntry
    fields = ("created_at", "kind", "amount", "balance_after", "period_start", "source", "note")
    readonly_fields = fields
    extra = 0
    ordering = ("-created_at", "-id")
    can_delete = False
    # Bounded: a years-old subscription has dozens of rows, not thousands.
    max_num = 0

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "plan",
        "interval",
        "status",
        "credits_balance",
        "credits_period_start",
        "next_credit_reset_at",
    )
    list_filter = ("status", "interval", "plan")
    list_select_related = ("user", "plan")
    search_fields = ("user__username", "user__email", "stripe_subscription_id")
    raw_id_fields = ("user",)
    # Credits change only through the ledger (services), never by editing the number.
    readonly_fields = (
        "credits_balance",
        "credits_period_start",
        "last_credit_reset_at",
        "next_credit_reset_at",
        "stripe_synced_at",
        "created_at",
        "updated_at",
    )
    inlines = [CreditLedgerInline]
    actions = ["reset_credits_now"]

    @admin.action(description="Reset credits now (once per period)")
    def reset_credits_now(self, request, queryset):
        report = credits_reset(
            subscription_ids=queryset.values_list("pk", flat=True),
            source=CreditLedgerEntry.Source.ADMIN,
        )
        counts = report.counts()
        self.message_user(
            request,
            f"Reset {counts['reset']} subscription(s); {counts['skipped']} skipped "
            "(already reset for this period, or not active).",
            messages.SUCCESS if counts["reset"] else messages.WARNING,
        )
        for subscription_id, reason in report.skipped[:20]:
            self.message_user(request, f"#{subscription_id}: {reason}", messages.INFO)


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "subscription", "kind", "amount", "balance_after", "source")
    list_filter = ("kind", "source")
    list_select_related = ("subscription__user", "subscription__plan")
    search_fields = ("subscription__user__username", "subscription__stripe_subscription_id")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = (
        "event_id",
        "type",
        "state",
        "created",
        "received_at",
        "attempts",
        "outcome",
    )
    list_filter = ("state", "type")
    search_fields = ("event_id", "outcome")
    date_hierarchy = "received_at"
    actions = ["process_again"]

    @admin.action(
        description="Process again (after fixing why it needs attention)",
        permissions=["process"],
    )
    def process_again(self, request, queryset):
        outcomes = stripe_events_process_again(event_ids=queryset.values_list("pk", flat=True))
        processed = sum(1 for outcome in outcomes if not outcome.startswith("needs attention"))
        self.message_user(
            request,
            f"Processed {len(outcomes)} event(s) again; {len(outcomes) - processed} still need "
            "attention.",
            messages.SUCCESS if processed == len(outcomes) else messages.WARNING,
        )
        for outcome in outcomes[:20]:
            self.message_user(request, outcome, messages.INFO)

    def has_process_permission(self, request):
        return request.user.has_perm("billing.process_stripe_event")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
