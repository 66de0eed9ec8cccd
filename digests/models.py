"""Opportunities and the public sources they are scraped from.

The digest models (issue 7) live further down this module; the scraping code is in
digests/scraping/ and digests/services/.
"""

import zoneinfo
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from digests.scraping.fees import is_currency_code
from outreach.models import EmailOutbox
from proletto.models import (
    validate_country_code,
    validate_mediums,
    validate_tags,
    validate_time_zone,
)


def validate_currency_code(value: str) -> None:
    if value and not is_currency_code(value):
        raise ValidationError(
            "%(value)s is not an ISO 4217 currency code (e.g. EUR, USD).",
            code="invalid_currency",
            params={"value": value},
        )


class OpportunitySource(models.Model):
    """A public feed or page that lists art opportunities."""

    class Kind(models.TextChoices):
        FEED = "feed", "RSS / Atom feed"
        JSON_FEED = "json_feed", "JSON Feed (jsonfeed.org)"
        JSON_API = "json_api", "JSON API list"
        HTML = "html", "HTML listing page"

    # Keys `config` may hold per kind; the required ones are checked by clean().
    HTML_SELECTOR_KEYS = (
        "item",
        "title",
        "link",
        "deadline",
        "organisation",
        "description",
        "location",
        "kind",
        "mediums",
        "tags",
        "fee",
        "eligibility",
    )
    HTML_REQUIRED_KEYS = ("item", "title", "link")
    JSON_API_FIELD_KEYS = HTML_SELECTOR_KEYS[1:]
    JSON_API_REQUIRED_KEYS = ("title", "link")

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=Kind)
    url = models.URLField(max_length=1000)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            'HTML: CSS selectors, e.g. {"item": "article.call", "title": "h2", "link": "a", '
            '"deadline": ".deadline"}. JSON API: {"items": "data.results", "fields": '
            '{"title": "name", "link": "url", "deadline": "closes_on"}}. Feeds: {}.'
        ),
    )
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Time zone of deadlines given without one (a date-only deadline ends at "
        "23:59 there).",
    )
    fetch_interval = models.DurationField(default=timedelta(hours=6))

    next_fetch_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set while a run scrapes this source, so no other run takes it at the same time.
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    last_item_count = models.PositiveIntegerField(default=0, editable=False)
    # HTTP caching state for conditional GET.
    etag = models.CharField(max_length=500, blank=True, editable=False)
    last_modified = models.CharField(max_length=100, blank=True, editable=False)
    # The last body parsed, and when: the same bytes again are not parsed again.
    body_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    last_parsed_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["enabled", "next_fetch_at"], name="source_due_idx")]
        permissions = [("scrape_opportunitysource", "Can scrape a source now")]

    def __str__(self):
        return self.name

    @property
    def tzinfo(self):
        return zoneinfo.ZoneInfo(self.timezone)

    # Editing these changes what a fetch means: the cached answer no longer applies.
    FETCH_FIELDS = ("url", "kind", "config", "timezone")

    def forget_fetch_cache(self) -> None:
        """Make the next fetch unconditional and due now (after an edit of FETCH_FIELDS)."""
        self.etag = self.last_modified = self.body_sha256 = ""
        self.next_fetch_at = None

    def clean(self):
        if self.fetch_interval is not None and self.fetch_interval < timedelta(minutes=5):
            raise ValidationError({"fetch_interval": "Fetch at most every 5 minutes."})
        if not isinstance(self.config, dict):
            raise ValidationError({"config": "Config must be a JSON object."})
        if self.kind == self.Kind.HTML:
            self._clean_html_config()
        elif self.kind == self.Kind.JSON_API:
            self._clean_json_api_config()

    def _clean_html_config(self):
        import soupsieve

        unknown = sorted(set(self.config) - set(self.HTML_SELECTOR_KEYS))
        missing = [key for key in self.HTML_REQUIRED_KEYS if not self.config.get(key)]
        if unknown or missing:
            raise ValidationError(
                {
                    "config": f"HTML sources need selectors for {', '.join(missing) or '-'}; "
                    f"unknown keys: {', '.join(unknown) or '-'}. "
                    f"Known: {', '.join(self.HTML_SELECTOR_KEYS)}."
                }
            )
        for key, selector in self.config.items():
            try:
                soupsieve.compile(str(selector))
            except Exception as exc:
                raise ValidationError(
                    {"config": f"Selector {key}={selector!r} is not valid CSS: {exc}"}
                ) from exc

    def _clean_json_api_config(self):
        fields = self.config.get("fields")
        if not isinstance(fields, dict):
            raise ValidationError(
                {"config": 'JSON API sources need "fields": {"title": ..., "link": ...}.'}
            )
        unknown = sorted(set(fields) - set(self.JSON_API_FIELD_KEYS))
        missing = [key for key in self.JSON_API_REQUIRED_KEYS if not fields.get(key)]
        if unknown or missing or set(self.config) - {"items", "fields"}:
            raise ValidationError(
                {
                    "config": f"JSON API fields missing: {', '.join(missing) or '-'}; "
                    f"unknown: {', '.join(unknown) or '-'}. Top-level keys: items, fields."
                }
            )


class Opportunity(models.Model):
    """One open call, residency, grant, ...: plain text only, whatever the source sent."""

    class Kind(models.TextChoices):
        OPEN_CALL = "open_call", "Open call"
        RESIDENCY = "residency", "Residency"
        GRANT = "grant", "Grant"
        FELLOWSHIP = "fellowship", "Fellowship"
        COMPETITION = "competition", "Competition / prize"
        COMMISSION = "commission", "Commission"
        JOB = "job", "Job"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"

    title = models.CharField(max_length=300)
    organisation = models.CharField(max_length=200, blank=True)
    url = models.URLField(
        max_length=1000, unique=True, help_text="Canonical: tracking parameters stripped."
    )
    kind = models.CharField(max_length=20, choices=Kind, default=Kind.OTHER)
    description = models.TextField(blank=True)
    # The instant it closes (ranking, expiry, ordering). A call that gives a day, not a time,
    # closes at the end of that day where the organiser is: deadline_date is that day, the
    # one every reader is shown, and deadline_timezone the organiser's zone.
    deadline = models.DateTimeField(null=True, blank=True, help_text="Empty: rolling.")
    deadline_date = models.DateField(
        null=True, blank=True, help_text="The day as the call gives it, when it gives no time."
    )
    deadline_timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="The organiser's zone, where the deadline's day ends.",
    )
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, validators=[validate_country_code])
    location_text = models.CharField(max_length=200, blank=True, help_text="As the source says.")
    is_remote = models.BooleanField(default=False)
    mediums = models.JSONField(default=list, blank=True, validators=[validate_mediums])
    tags = models.JSONField(default=list, blank=True, validators=[validate_tags])
    eligibility = models.TextField(blank=True)
    fee_amount = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="0 = free; empty = unknown.",
    )
    fee_currency = models.CharField(
        max_length=3, blank=True, validators=[validate_currency_code], help_text="ISO 4217."
    )
    fee_text = models.CharField(
        max_length=200, blank=True, help_text="As the source says (a range, conditions)."
    )
    source = models.ForeignKey(
        OpportunitySource, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status, default=Status.ACTIVE)
    # Hash of the scraped fields: an unchanged item costs no write on a re-scrape.
    content_hash = models.CharField(max_length=64, editable=False)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "opportunities"
        ordering = ["deadline", "id"]
        indexes = [
            models.Index(fields=["status", "deadline"], name="opportunity_open_idx"),
            models.Index(fields=["deadline"], name="opportunity_deadline_idx"),
            models.Index(fields=["source", "last_seen_at"], name="opportunity_source_seen_idx"),
        ]

    def __str__(self):
        return self.title

    def clean(self):
        # A day edited in the admin moves the instant with it: the end of that day there.
        if self.deadline_date is None:
            return
        self.deadline_timezone = self.deadline_timezone or "UTC"
        try:
            zone = zoneinfo.ZoneInfo(self.deadline_timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return  # the field's validator reports it
        self.deadline = datetime.combine(self.deadline_date, time(23, 59, 59), tzinfo=zone)

    @property
    def is_free(self) -> bool:
        return self.fee_amount is not None and self.fee_amount == 0


# --- the weekly digest -----------------------------------------------------------------------


class DigestEmailQuerySet(models.QuerySet):
    def with_delivery(self):
        """Each digest with how its email fared, read from its outbox row (the one writer of
        sending, opens and clicks): `delivery` (a Delivery value), `sent_at`, `opened_at`,
        `clicked_at`. One join, so a list of digests costs one query."""
        given_up = [
            EmailOutbox.Status.DEAD,
            EmailOutbox.Status.CANCELLED,
            EmailOutbox.Status.SUPPRESSED,
        ]
        return self.annotate(
            delivery=models.Case(
                models.When(status=DigestEmail.Status.SKIPPED, then=models.Value("skipped")),
                models.When(outbox__status=EmailOutbox.Status.SENT, then=models.Value("sent")),
                models.When(outbox__status__in=given_up, then=models.Value("failed")),
                models.When(outbox__isnull=True, then=models.Value("unknown")),
                default=models.Value("queued"),
                output_field=models.CharField(),
            ),
            sent_at=models.F("outbox__sent_at"),
            opened_at=models.F("outbox__opened_at"),
            clicked_at=models.F("outbox__clicked_at"),
        )


class DigestEmail(models.Model):
    """One weekly digest for one artist: what it carried and its email. How the email fared
    (sent, opened, clicked) is its outbox row's: `DigestEmail.objects.with_delivery()`."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"  # handed to the outbox; its row tells how it fared
        SKIPPED = "skipped", "Skipped"  # nothing was sent; skip_reason says why
        TEST = "test", "Test"  # sent on request, outside the weekly rules

    class Delivery(models.TextChoices):
        QUEUED = "queued", "Waiting in the outbox"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # the outbox gave up on it (dead, suppressed, cancelled)
        SKIPPED = "skipped", "Skipped"
        UNKNOWN = "unknown", "Unknown (outbox row gone)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digests"
    )
    week_start = models.DateField(help_text="First day of the digest week in the user's zone.")
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    opportunity_count = models.PositiveSmallIntegerField(default=0)
    skip_reason = models.CharField(max_length=200, blank=True)
    outbox = models.OneToOneField(
        "outreach.EmailOutbox",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="digest",
    )
    # Which run created the row: a run fills in only the rows it inserted itself.
    run_id = models.CharField(max_length=32, blank=True, editable=False)
    # Test digests only: the staff user who asked for it (the per-user rate limit counts these).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = DigestEmailQuerySet.as_manager()

    class Meta:
        ordering = ["-week_start", "-id"]
        constraints = [
            # At most one real digest per user and week: the last line against two runs.
            models.UniqueConstraint(
                fields=["user", "week_start"],
                condition=~models.Q(status="test"),
                name="digest_one_per_user_week",
            )
        ]
        indexes = [
            models.Index(fields=["week_start", "status"], name="digest_week_status_idx"),
            models.Index(fields=["run_id"], name="digest_run_idx"),
        ]
        permissions = [
            ("send_test_digest", "Can send a test digest to a user"),
            ("preview_digest", "Can preview a user's digest"),
        ]

    def __str__(self):
        return f"{self.user} · week of {self.week_start} ({self.status})"


class DigestItem(models.Model):
    """An opportunity in a digest, in order, with the score and reasons that picked it."""

    digest = models.ForeignKey(DigestEmail, on_delete=models.CASCADE, related_name="items")
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()
    score = models.FloatField()
    reasons = models.JSONField(default=list)
    # The artist's first click through (link scanners' visits are never recorded here).
    clicked_at = models.DateTimeField(null=True, blank=True)

    class Feedback(models.TextChoices):
        MORE = "more", "More like this"
        LESS = "less", "Not for me"

    # The artist's answer from the card's own links; the latest answer counts.
    # db_default: the weekly run writes items with COPY, which leaves out Django defaults.
    feedback = models.CharField(max_length=4, choices=Feedback, blank=True, db_default="")
    feedback_at = models.DateTimeField(null=True, blank=True)
    # When this item's link was last followed as a scanner follows it, whoever followed it: its
    # click link, or both its answers within seconds (an artist answers a card once). Several
    # items of one digest followed so within seconds is a link scanner, not the artist.
    followed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["digest", "position"]
        constraints = [
            models.UniqueConstraint(fields=["digest", "position"], name="digest_item_position"),
            models.UniqueConstraint(
                fields=["digest", "opportunity"], name="digest_item_opportunity"
            ),
        ]

    def __str__(self):
        return f"#{self.position} {self.opportunity_id}"
