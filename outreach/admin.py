from django.contrib import admin, messages
from django.utils.html import format_html

from outreach.models import (
    EmailEvent,
    EmailOutbox,
    Suppression,
    UpsellSequence,
    UpsellSession,
    UpsellStep,
)
from outreach.services.outbox import outbox_cancel, outbox_requeue_dead, outbox_retry_now


class EmailEventInline(admin.TabularInline):
    model = EmailEvent
    fields = (
        "occurred_at",
        "event_type",
        "reject_reason",
        "description",
        "event_id",
        "received_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("occurred_at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(EmailOutbox)
class EmailOutboxAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "recipient",
        "subject",
        "category",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "delivery_status",
        "opened_at",
    )
    list_filter = ("status", "category", "delivery_status", "esp_name")
    search_fields = ("recipient", "=idempotency_key", "=esp_message_id")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    show_full_result_count = False
    actions = ("retry_now", "cancel", "requeue_dead")
    inlines = (EmailEventInline,)
    fieldsets = (
        (None, {"fields": ("recipient", "user", "subject", "category", "priority", "template")}),
        (
            "Delivery",
            {
                "fields": (
                    "status",
                    "attempts",
                    "next_attempt_at",
                    "last_error",
                    "sent_at",
                    "esp_name",
                    "esp_message_id",
                    "delivery_status",
                    "delivery_status_at",
                    "delivered_at",
                    "bounced_at",
                    "complained_at",
                    "opened_at",
                    "clicked_at",
                )
            },
        ),
        ("Content", {"fields": ("html_preview", "body_text", "headers", "bodies_dropped_at")}),
        ("Bookkeeping", {"fields": ("idempotency_key", "claimed_at", "created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        # The outbox is a record of what was sent: only the actions change it.
        return [field.name for field in self.model._meta.fields] + ["html_preview"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="HTML preview")
    def html_preview(self, obj):
        if not obj.body_html:
            return "(no HTML body)"
        # A sandboxed iframe: the email's HTML is shown as rendered, with no scripts and no
        # access to the admin's origin.
        return format_html(
            '<iframe sandbox="" srcdoc="{}" title="HTML preview" class="outbox-preview" '
            'style="width: 100%; max-width: 800px; height: 480px; border: 1px solid #ccc">'
            "</iframe>",
            obj.body_html,
        )

    @admin.action(description="Retry now (queued or failed)", permissions=["change"])
    def retry_now(self, request, queryset):
        count = outbox_retry_now(ids=list(queryset.values_list("id", flat=True)))
        self._report(request, queryset, count, "queued to send now")

    @admin.action(description="Cancel (not yet sent)", permissions=["change"])
    def cancel(self, request, queryset):
        count = outbox_cancel(ids=list(queryset.values_list("id", flat=True)))
        self._report(request, queryset, count, "cancelled")

    @admin.action(description="Requeue dead emails", permissions=["change"])
    def requeue_dead(self, request, queryset):
        count = outbox_requeue_dead(ids=list(queryset.values_list("id", flat=True)))
        self._report(request, queryset, count, "requeued")

    def _report(self, request, queryset, count, verb):
        skipped = queryset.count() - count
        self.message_user(request, f"{count} email(s) {verb}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} email(s) skipped: their status does not allow it.",
                messages.WARNING,
            )


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("address", "category", "reason", "created_at", "expires_at")
    list_filter = ("category",)
    search_fields = ("address",)
    ordering = ("-created_at",)


class UpsellStepInline(admin.TabularInline):
    model = UpsellStep
    extra = 1
    ordering = ("position",)


@admin.register(UpsellSequence)
class UpsellSequenceAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "is_active", "duration")
    prepopulated_fields = {"code": ("name",)}
    inlines = (UpsellStepInline,)


@admin.register(UpsellSession)
class UpsellSessionAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "sequence",
        "status",
        "current_step",
        "started_at",
        "deadline",
        "ended_at",
    )
    list_filter = ("status", "sequence")
    list_select_related = ("user", "sequence")
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)
