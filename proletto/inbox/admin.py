"""The inbox in the admin: filter by source, type and state, read the raw payload and what
became of it, replay selected events or every failed one (permission
proletto.replay_inboundevent, after a confirmation page)."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from proletto.admin_confirmation import confirmation_page
from proletto.inbox.services import inbox_replay, inbox_replay_failed
from proletto.models import InboundEvent

REPLAY_PERMISSION = "proletto.replay_inboundevent"


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "source",
        "kind",
        "external_id",
        "state",
        "attempts",
        "received_at",
        "next_attempt_at",
        "outcome_or_error",
    )
    list_filter = ("source", "kind", "state")
    search_fields = ("external_id",)
    ordering = ("-id",)
    actions = ["replay"]
    change_list_template = "admin/inbox/inboundevent_change_list.html"
    fields = (
        ("source", "kind", "external_id"),
        ("state", "attempts", "next_attempt_at"),
        ("received_at", "applied_at", "updated_at"),
        "signature",
        "outcome",
        "error",
        "payload",
        "stored_headers",
    )

    def get_queryset(self, request):
        # Payloads are loaded only where shown: a list page of large inbound emails stays small.
        return super().get_queryset(request).defer("body")

    def get_readonly_fields(self, request, obj=None):
        return self.fields_flat()

    def fields_flat(self):
        flat = []
        for field in self.fields:
            flat.extend(field if isinstance(field, tuple) else (field,))
        return flat

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a record of what arrived: only replays change it

    def has_replay_permission(self, request):
        return request.user.has_perm(REPLAY_PERMISSION)

    @admin.display(description="outcome / error")
    def outcome_or_error(self, obj):
        if obj.last_error:
            return obj.last_error.strip().splitlines()[-1][:120]
        return obj.outcome

    @admin.display(description="error")
    def error(self, obj):
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.last_error or "-")

    @admin.display(description="raw payload")
    def payload(self, obj):
        text = obj.body_text()
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass  # not JSON (form-encoded, MIME): shown as it came
        return format_html(
            "<pre style='white-space: pre-wrap; max-height: 40em; overflow: auto'>{}</pre>", text
        )

    @admin.display(description="headers")
    def stored_headers(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.headers, indent=2, sort_keys=True))

    @admin.action(description="Replay the selected events", permissions=["replay"])
    def replay(self, request, queryset):
        if request.POST.get("post") != "yes":
            return self._confirmation(
                request,
                title="Replay the selected events?",
                events=queryset.order_by("id"),
                action="replay",
            )
        count = inbox_replay(ids=queryset.values_list("id", flat=True))
        self.message_user(
            request, f"{count} event(s) queued to be applied again.", messages.SUCCESS
        )
        skipped = queryset.count() - count
        if skipped:
            self.message_user(
                request, f"{skipped} event(s) skipped: pending or processing.", messages.WARNING
            )
        return None

    def get_urls(self):
        return [
            path(
                "replay-failed/",
                self.admin_site.admin_view(self.replay_failed_view),
                name="proletto_inboundevent_replay_failed",
            ),
            *super().get_urls(),
        ]

    def replay_failed_view(self, request):
        if not self.has_replay_permission(request):
            raise PermissionDenied
        changelist = reverse("admin:proletto_inboundevent_changelist")
        if request.method == "POST":
            count = inbox_replay_failed()
            self.message_user(
                request, f"{count} failed or held event(s) queued again.", messages.SUCCESS
            )
            return HttpResponseRedirect(changelist)
        failed = InboundEvent.objects.filter(
            state__in=[InboundEvent.State.FAILED, InboundEvent.State.HELD]
        )
        return self._confirmation(
            request,
            title="Replay every failed and held event?",
            events=failed.defer("body").order_by("id")[:100],
            total=failed.count(),
        )

    def _confirmation(self, request, *, title, events, action=None, total=None):
        events = list(events)
        total = len(events) if total is None else total
        return confirmation_page(
            self,
            request,
            action=action,
            title=title,
            question=f"{total} event(s) will be applied again by the next process_inbox run.",
            selected=[event.pk for event in events],
            will_act=[
                f"#{event.pk} {event.source} {event.kind} {event.external_id} — "
                f"{event.get_state_display()}"
                for event in events
            ],
            confirm_label=f"Yes, replay {total} event(s)",
            note=(
                "An event already applied takes effect once: the Stripe event id and the ESP "
                "event id are checked again."
            ),
        )
