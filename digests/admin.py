from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html

from digests import selectors
from digests.admin_delivery import DeliveryFilter, outbox_time
from digests.deadlines import opportunity_deadline_label
from digests.errors import DigestsError, TestDigestRateLimited
from digests.models import DigestEmail, DigestItem, Opportunity, OpportunitySource
from digests.services.digest import digest_preview, digest_send_test
from digests.services.scrape import opportunities_scrape
from digests.tokens import REDACTED, tokens_redact
from proletto.admin_confirmation import confirmation_page, is_confirmed
from proletto.admin_display import short_text
from proletto.vocabulary import MEDIUM_CHOICES


@admin.register(OpportunitySource)
class OpportunitySourceAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = [
        "name",
        "kind",
        "enabled",
        "health",
        "last_success_at",
        "consecutive_failures",
        "last_item_count",
        "next_fetch_at",
        "short_error",
    ]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "url"]
    actions = ["scrape_now"]
    readonly_fields = [
        "next_fetch_at",
        "last_fetched_at",
        "last_success_at",
        "consecutive_failures",
        "last_item_count",
        "last_error",
        "etag",
        "last_modified",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "kind", "url", "enabled", "fetch_interval", "timezone"]}),
        ("Parsing", {"fields": ["config"]}),
        (
            "Health",
            {
                "fields": [
                    "last_success_at",
                    "consecutive_failures",
                    "last_error",
                    "last_fetched_at",
                    "next_fetch_at",
                    "last_item_count",
                    "etag",
                    "last_modified",
                    "created_at",
                ]
            },
        ),
    ]

    def save_model(self, request, obj, form, change):
        if change and set(form.changed_data) & set(OpportunitySource.FETCH_FIELDS):
            obj.forget_fetch_cache()
        super().save_model(request, obj, form, change)

    @admin.display(description="health")
    def health(self, source):
        if not source.enabled:
            return "disabled"
        if source.consecutive_failures:
            return format_html(
                '<b style="color:#ba2121">failing ({})</b>', source.consecutive_failures
            )
        if source.last_success_at is None:
            return "never fetched"
        return "ok"

    @admin.display(description="last error")
    def short_error(self, source):
        return short_text(source.last_error, 120)

    def has_scrape_permission(self, request):
        return request.user.has_perm("digests.scrape_opportunitysource")

    @admin.action(
        description="Scrape now (selected sources, short timeout)", permissions=["scrape"]
    )
    def scrape_now(self, request, queryset):
        limit = settings.SCRAPE_ADMIN_MAX_SOURCES
        sources = list(queryset[: limit + 1])
        if len(sources) > limit:
            self.message_user(
                request,
                f"Select at most {limit} sources to scrape from here; the scheduled job "
                "scrapes them all.",
                messages.ERROR,
            )
            return
        # All selected sources at once: the request waits at most about twice the timeout.
        summary = opportunities_scrape(
            sources=sources,
            timeout=settings.SCRAPE_ADMIN_TIMEOUT_SECONDS,
            max_in_flight=len(sources),
        )
        counts = summary.as_counts()
        self.message_user(
            request,
            f"Scraped {counts['sources']} sources: {counts['created']} new, "
            f"{counts['updated']} updated, {counts['unchanged']} unchanged, "
            f"{counts['not_modified']} not modified, {counts['failed']} failed, "
            f"{counts['busy']} busy elsewhere.",
            messages.WARNING if summary.failed or counts["busy"] else messages.SUCCESS,
        )
        for result in summary.results:
            if result.error:
                self.message_user(request, f"{result.name}: {result.error}", messages.ERROR)


class MediumFilter(admin.SimpleListFilter):
    title = "medium"
    parameter_name = "medium"

    def lookups(self, request, model_admin):
        return MEDIUM_CHOICES

    def queryset(self, request, queryset):
        if self.value():
            # JSON containment is not on SQLite; the quoted word in the JSON text is the
            # same test there, and the vocabulary has no medium inside another's quotes.
            return queryset.filter(mediums__icontains=f'"{self.value()}"')
        return queryset


class DeadlineFilter(admin.SimpleListFilter):
    title = "deadline"
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [
            ("week", "Next 7 days"),
            ("month", "Next 30 days"),
            ("later", "Later"),
            ("rolling", "Rolling (none)"),
            ("past", "Passed"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        days = timedelta(days=1)
        value = self.value()
        if value == "week":
            return queryset.filter(deadline__gte=now, deadline__lt=now + 7 * days)
        if value == "month":
            return queryset.filter(deadline__gte=now, deadline__lt=now + 30 * days)
        if value == "later":
            return queryset.filter(deadline__gte=now + 30 * days)
        if value == "rolling":
            return queryset.filter(deadline__isnull=True)
        if value == "past":
            return queryset.filter(Q(deadline__lt=now))
        return queryset


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = [
        "title",
        "organisation",
        "kind",
        "deadline_shown",
        "status",
        "location_text",
        "medium_list",
        "source",
        "last_seen_at",
    ]
    list_filter = ["kind", "status", MediumFilter, DeadlineFilter, "is_remote", "source"]
    list_select_related = ["source"]
    search_fields = ["title", "organisation", "description", "location_text", "url"]
    date_hierarchy = "deadline"
    readonly_fields = ["content_hash", "first_seen_at", "last_seen_at"]
    list_per_page = 50

    @admin.display(description="deadline", ordering="deadline")
    def deadline_shown(self, opportunity):
        return opportunity_deadline_label(opportunity)

    @admin.display(description="mediums")
    def medium_list(self, opportunity):
        return ", ".join(opportunity.mediums)


# --- the weekly digest -----------------------------------------------------------------------


class DigestItemInline(admin.TabularInline):
    model = DigestItem
    fields = ["position", "opportunity", "score", "why", "clicked_at", "feedback", "feedback_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["position"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="why it was picked")
    def why(self, item):
        # Reasons include what the artist said of earlier items ("you asked for more like").
        return "; ".join(item.reasons)


@admin.register(DigestEmail)
class DigestEmailAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "week_start",
        "status",
        "delivery",
        "opportunity_count",
        "sent_at",
        "opened_at",
        "clicked_at",
        "skip_reason",
    ]
    list_filter = ["status", DeliveryFilter, "week_start"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    date_hierarchy = "week_start"
    inlines = [DigestItemInline]
    actions = ["resend_as_test"]
    RESEND_MAX = 50
    readonly_fields = [
        "user",
        "week_start",
        "status",
        "opportunity_count",
        "skip_reason",
        "outbox",
        "run_id",
        "created_at",
        "delivery",
        "sent_at",
        "opened_at",
        "clicked_at",
    ]
    change_list_template = "admin/digests/digestemail/change_list.html"

    def get_queryset(self, request):
        # How each email fared is its outbox row's, joined in the list's one query.
        return super().get_queryset(request).with_delivery()

    @admin.display(description="delivery", ordering="delivery")
    def delivery(self, digest):
        return DigestEmail.Delivery(digest.delivery).label

    sent_at = outbox_time("sent_at")
    opened_at = outbox_time("opened_at")
    clicked_at = outbox_time("clicked_at")

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="digests_digestemail_preview",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        rates = selectors.digest_weekly_rates(weeks=12)
        extra_context = {
            **(extra_context or {}),
            "weekly_rates": rates,
            "can_preview": self.has_preview_permission(request),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def preview_view(self, request):
        """What a user got this week (subject and body, as stored in the outbox) and, apart,
        what the next picks would be; every tracking and unsubscribe token is replaced by a
        placeholder, and nothing is written or sent."""
        if not self.has_preview_permission(request):
            raise PermissionDenied
        reference = request.GET.get("user", "")
        try:
            user = selectors.user_by_reference(reference)
        except DigestsError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return redirect("admin:digests_digestemail_changelist")
        sent = selectors.digest_of_this_week(user=user)
        email = sent.outbox if sent is not None else None
        next_subject, next_text, next_html = digest_preview(user=user)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Digest of {user.get_username()}",
            "opts": self.opts,
            "preview_user": user,
            "sent": sent,
            "sent_subject": tokens_redact(email.subject) if email else "",
            "sent_html": tokens_redact(email.body_html) if email else "",
            "sent_text": tokens_redact(email.body_text) if email else "",
            "bodies_dropped": bool(email and email.bodies_dropped_at),
            "next_subject": next_subject,
            "next_html": next_html,
            "next_text": next_text,
            "placeholder": REDACTED,
        }
        return TemplateResponse(request, "admin/digests/digest_preview.html", context)

    def has_send_test_permission(self, request):
        return request.user.has_perm("digests.send_test_digest")

    def has_preview_permission(self, request):
        return request.user.has_perm("digests.preview_digest")

    @admin.action(
        description="Resend as test (to the same user, status 'test')", permissions=["send_test"]
    )
    def resend_as_test(self, request, queryset):
        limit = self.RESEND_MAX
        digests = list(queryset.select_related("user").order_by("pk")[: limit + 1])
        if not is_confirmed(request):
            return confirmation_page(
                self,
                request,
                action="resend_as_test",
                title="Resend as test",
                question=(
                    f"Email {min(len(digests), limit)} test digest(s) now, each with the "
                    "picks its user would get today?"
                ),
                selected=[digest.pk for digest in digests[:limit]],
                will_act=[
                    f"{digest.user.get_username()} (digest #{digest.pk}, week of "
                    f"{digest.week_start:%Y-%m-%d})"
                    for digest in digests[:limit]
                ],
                skipped=(
                    [f"more than {limit} selected: only the first {limit} are sent"]
                    if len(digests) > limit
                    else []
                ),
                confirm_label=f"Yes, send {min(len(digests), limit)} test digest(s)",
                note=(
                    f"Each staff user may send {settings.TEST_DIGEST_LIMIT_PER_HOUR} test "
                    "digests an hour (TEST_DIGEST_LIMIT_PER_HOUR)."
                ),
            )
        sent, failed = 0, []
        for digest in digests[:limit]:
            try:
                digest_send_test(user=digest.user, requested_by=request.user)
                sent += 1
            except TestDigestRateLimited as exc:
                failed.append(str(exc))
                break
            except DigestsError as exc:
                failed.append(str(exc))
        if sent:
            self.message_user(request, f"{sent} test digest(s) queued.", messages.SUCCESS)
        for message in failed:
            self.message_user(request, message, messages.ERROR)
        return None
