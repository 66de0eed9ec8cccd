from django.contrib import admin

from billing.models import Plan, Subscription


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "monthly_credits", "is_pro")
    prepopulated_fields = {"code": ("name",)}


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "plan",
        "interval",
        "status",
        "credits_balance",
        "last_credit_reset_at",
        "next_credit_reset_at",
    )
    list_filter = ("status", "interval", "plan")
    list_select_related = ("user", "plan")
    search_fields = ("user__username", "user__email", "stripe_subscription_id")
    raw_id_fields = ("user",)
