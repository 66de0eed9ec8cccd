"""Queueing emails in the outbox: rendering, address and header checks, suppressed at queue time."""

import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import JSONField
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone

from outreach.consent import has_one_click_headers
from outreach.errors import OutboxError
from outreach.models import MARKETING_CATEGORIES, Category, EmailOutbox
from outreach.selectors import outbox_refusals
from proletto.bulk import objs_insert_ignoring_conflicts

Status = EmailOutbox.Status

# RFC 5322 field names: printable ASCII except the colon.
HEADER_NAME = re.compile(r"^[!-9;-~]+$")
TEMPLATE_NAME = re.compile(r"^[a-z0-9_\-]+(/[a-z0-9_\-]+)*$")
# Category.values builds a new list on every read: checked once per email in batches.
CATEGORIES = frozenset(Category.values)


def outbox_enqueue(
    *,
    recipient: str,
    template: str,
    context: dict,
    category: str,
    idempotency_key: str,
    headers: dict | None = None,
    priority: int = 0,
    user=None,
) -> EmailOutbox:
    """Queue an email rendered from templates/email/<template>/ now.

    Call it inside the transaction of the change that causes the email, so the email exists
    if and only if that change commits. The same idempotency key twice returns the first row.
    """
    if not idempotency_key or len(idempotency_key) > 255:
        raise OutboxError("idempotency_key must be 1 to 255 characters")
    existing = EmailOutbox.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing

    address = _clean_address(recipient)
    if category not in CATEGORIES:
        raise OutboxError(
            f"unknown email category {category!r}: use one of {', '.join(Category.values)}"
        )
    if not isinstance(priority, int) or not -1000 <= priority <= 1000:
        raise OutboxError(f"priority must be a whole number from -1000 to 1000, not {priority!r}")
    clean_headers = _clean_marketing_headers(category, _clean_headers(headers or {}))
    subject, body_text, body_html = email_render(template=template, context=context)

    row = EmailOutbox(
        recipient=address,
        user=user,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        headers=clean_headers,
        template=template,
        category=category,
        priority=priority,
        idempotency_key=idempotency_key,
        next_attempt_at=timezone.now(),
    )
    _refuse_without_consent([row])
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        # Another transaction enqueued the same key between our lookup and our insert.
        return EmailOutbox.objects.get(idempotency_key=idempotency_key)
    return row


@dataclass(frozen=True)
class OutboxDraft:
    """One email for outbox_enqueue_many: the same fields outbox_enqueue takes."""

    recipient: str
    template: str
    context: dict
    category: str
    idempotency_key: str
    headers: dict | None = None
    priority: int = 0
    user_id: int | None = None
    # (subject, body_text, body_html) already rendered from `template` by the caller, for
    # batch senders that render many emails of one template faster than one by one (the
    # weekly digest); `context` is then not rendered again.
    rendered: tuple[str, str, str] | None = None


def outbox_enqueue_many(drafts: list[OutboxDraft]) -> dict[str, int]:
    """Queue many emails in a few queries (for batch senders such as the weekly digest).

    Same rules as outbox_enqueue: every draft is validated and rendered before anything is
    written, so one bad draft raises OutboxError and writes nothing; keys already queued are
    left as they are. Returns the outbox id of every draft's key.
    """
    now = timezone.now()
    rows = []
    for draft in drafts:
        recipient, subject, body_text, body_html, headers = _draft_clean(draft)
        rows.append(
            EmailOutbox(
                recipient=recipient,
                user_id=draft.user_id,
                subject=subject,
                body_text=body_text,
                body_html=body_html,
                headers=headers,
                template=draft.template,
                category=draft.category,
                priority=draft.priority,
                idempotency_key=draft.idempotency_key,
                next_attempt_at=now,
            )
        )
    _refuse_without_consent(rows)
    # Keys queued before are looked up (all keys, where the insert cannot say what it did).
    ids = objs_insert_ignoring_conflicts(rows, key="idempotency_key") or {}
    keys = [row.idempotency_key for row in rows if row.idempotency_key not in ids]
    for start in range(0, len(keys), 500):
        ids.update(
            EmailOutbox.objects.filter(idempotency_key__in=keys[start : start + 500]).values_list(
                "idempotency_key", "id"
            )
        )
    return ids


def outbox_rows(
    drafts: list[OutboxDraft], *, ids: list[int], refusals: list[str] | None = None
) -> tuple[list[str], list[list]]:
    """The outbox rows of `drafts` as plain values: (field names, one list of values a row),
    for proletto.bulk.rows_insert(EmailOutbox, fields, rows, json_text=True).

    For batch writers that link to an email before writing it (the weekly digest): row i
    gets the primary key ids[i] (proletto.bulk.ids_reserve). Same rules as
    outbox_enqueue_many (validated, rendered, refused without consent, every other field at
    its default), but the caller makes sure no key is in the outbox yet: COPY cannot skip one.
    `refusals`: outbox_refusals(drafts), when the caller has just asked it for its own ends.
    """
    now = timezone.now()
    fields = list(EmailOutbox._meta.concrete_fields)
    names = [field.attname for field in fields]
    blank = [_field_default(field, now) for field in fields]
    at = {name: i for i, name in enumerate(names)}
    rows = []
    if refusals is None:
        # The one consent rule reads recipient, category and user_id: a draft has them.
        refusals = outbox_refusals(drafts)
    for draft, pk, reason in zip(drafts, ids, refusals, strict=True):
        recipient, subject, body_text, body_html, headers = _draft_clean(draft)
        row = blank.copy()
        for name, value in (
            ("id", pk),
            ("recipient", recipient),
            ("user_id", draft.user_id),
            ("subject", subject),
            ("body_text", body_text),
            ("body_html", body_html),
            ("headers", json.dumps(headers)),
            ("template", draft.template),
            ("category", draft.category),
            ("priority", draft.priority),
            ("idempotency_key", draft.idempotency_key),
            ("next_attempt_at", None if reason else now),
        ):
            row[at[name]] = value
        if reason:
            row[at["status"]], row[at["last_error"]] = Status.SUPPRESSED, reason
        rows.append(row)
    return names, rows


def _field_default(field, now):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    if isinstance(field, JSONField):
        return json.dumps(field.get_default())
    return field.get_default()


def _draft_clean(draft: OutboxDraft) -> tuple[str, str, str, str, dict]:
    """(recipient, subject, body_text, body_html, headers) of a draft, checked and rendered;
    OutboxError for the first thing wrong with it."""
    if not draft.idempotency_key or len(draft.idempotency_key) > 255:
        raise OutboxError("idempotency_key must be 1 to 255 characters")
    if draft.category not in CATEGORIES:
        raise OutboxError(
            f"unknown email category {draft.category!r}: use one of {', '.join(Category.values)}"
        )
    if draft.rendered is None:
        subject, body_text, body_html = email_render(template=draft.template, context=draft.context)
    else:
        subject, body_text, body_html = draft.rendered
        subject = _clean_subject(draft.template, subject)
    headers = _clean_marketing_headers(draft.category, _clean_headers(draft.headers or {}))
    return _clean_address(draft.recipient), subject, body_text, body_html, headers


def _refuse_without_consent(rows: list[EmailOutbox]) -> None:
    # Rows the consent rule refuses are kept, as "suppressed" with the reason, never sent.
    for row, reason in zip(rows, outbox_refusals(rows), strict=True):
        if reason:
            row.status = Status.SUPPRESSED
            row.next_attempt_at = None
            row.last_error = reason


def _clean_marketing_headers(category: str, headers: dict) -> dict:
    if category in MARKETING_CATEGORIES and not has_one_click_headers(headers):
        raise OutboxError(
            f"a {category} email needs RFC 8058 List-Unsubscribe and List-Unsubscribe-Post "
            "headers (outreach.consent.marketing_extras gives them)"
        )
    return headers


def _clean_address(recipient) -> str:
    if not isinstance(recipient, str):
        raise OutboxError(f"invalid email address {recipient!r}")
    address = recipient.strip()
    try:
        validate_email(address)
    except ValidationError:
        raise OutboxError(f"invalid email address {recipient!r}") from None
    if len(address) > 254:
        raise OutboxError(f"email address longer than 254 characters: {address[:40]!r}...")
    return address


def _clean_headers(headers: dict) -> dict:
    clean = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise OutboxError(f"invalid email header name {name!r}")
        if not isinstance(value, str):
            raise OutboxError(f"email header {name} must be a string, not {type(value).__name__}")
        if "\r" in value or "\n" in value:
            # A newline in a header value lets the caller inject headers (or a body).
            raise OutboxError(f"email header {name} contains a newline")
        clean[name] = value
    return clean


def email_render(*, template: str, context: dict) -> tuple[str, str, str]:
    """(subject, body_text, body_html) of templates/email/<template>/, as the outbox stores
    them; OutboxError if the template is missing, fails or renders a bad subject."""
    if not isinstance(template, str) or len(template) > 200 or not TEMPLATE_NAME.match(template):
        raise OutboxError(f"invalid email template name {template!r}")
    full_context = {
        "site_url": settings.SITE_URL,
        "footer_address": settings.EMAIL_FOOTER_ADDRESS,
        **context,
    }
    try:
        subject = render_to_string(f"email/{template}/subject.txt", full_context)
        body_text = render_to_string(f"email/{template}/body.txt", full_context)
        try:
            body_html = render_to_string(f"email/{template}/body.html", full_context)
        except TemplateDoesNotExist:
            body_html = ""
    except TemplateDoesNotExist as exc:
        raise OutboxError(f"email template {template!r} not found: {exc}") from None
    except Exception as exc:
        first_line = (str(exc).splitlines() or [""])[0]
        raise OutboxError(
            f"email template {template!r} failed to render: {type(exc).__name__}: {first_line}"
        ) from None
    return _clean_subject(template, subject), body_text, body_html


def _clean_subject(template: str, subject: str) -> str:
    subject = " ".join(subject.split())
    if not subject:
        raise OutboxError(f"email template {template!r} rendered an empty subject")
    if len(subject) > 998:  # the longest line RFC 5322 allows
        raise OutboxError(f"email template {template!r} rendered a subject over 998 characters")
    return subject


# --- an operator's actions on rows (the admin) ----------------------------------------


def outbox_retry_now(*, ids) -> int:
    """Queued or failed rows go out on the relay's next pass."""
    now = timezone.now()
    return EmailOutbox.objects.filter(id__in=ids, status__in=EmailOutbox.DUE_STATUSES).update(
        status=Status.QUEUED, next_attempt_at=now, updated_at=now
    )


def outbox_cancel(*, ids) -> int:
    """Rows not yet sent (nor being sent) are never sent."""
    now = timezone.now()
    return EmailOutbox.objects.filter(id__in=ids, status__in=EmailOutbox.DUE_STATUSES).update(
        status=Status.CANCELLED, next_attempt_at=None, updated_at=now
    )


def outbox_requeue_dead(*, ids) -> int:
    """Dead rows get a fresh set of attempts (after the cause was fixed)."""
    now = timezone.now()
    return EmailOutbox.objects.filter(id__in=ids, status=Status.DEAD).update(
        status=Status.QUEUED, attempts=0, next_attempt_at=now, updated_at=now
    )
