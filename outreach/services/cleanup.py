"""Clean-up of expired upsell and Django sessions, old outbox rows and lifted suppressions."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db.models import Q
from django.utils import timezone

from outreach.models import Category, EmailEvent, EmailOutbox, Suppression
from outreach.services.upsell import upsell_sessions_expire
from proletto.bulk import delete_in_batches, update_in_batches


def outreach_cleanup(*, now: datetime | None = None, batch_size: int | None = None) -> dict:
    """Expire and delete what has passed its time, in batches; returns counts per kind."""
    now = now or timezone.now()
    batch_size = batch_size or settings.CLEANUP_BATCH_SIZE
    final = EmailOutbox.FINAL_STATUSES
    body_cutoff = now - timedelta(days=settings.EMAIL_OUTBOX_BODY_RETENTION_DAYS)
    row_cutoff = now - timedelta(days=settings.EMAIL_OUTBOX_RETENTION_DAYS)

    def finished_before(cutoff):
        return Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff)

    counts = {
        "upsell_sessions_expired": upsell_sessions_expire(now=now),
        "django_sessions_deleted": delete_in_batches(
            Session.objects.filter(expire_date__lt=now), batch_size
        ),
        # Digest emails stay (their bodies go): a digest reads how it fared from its row.
        "outbox_rows_deleted": delete_in_batches(
            EmailOutbox.objects.filter(finished_before(row_cutoff), status__in=final).exclude(
                category=Category.DIGEST
            ),
            batch_size,
        ),
        "outbox_bodies_dropped": update_in_batches(
            EmailOutbox.objects.filter(
                finished_before(body_cutoff), status__in=final, bodies_dropped_at__isnull=True
            ),
            batch_size,
            body_text="",
            body_html="",
            bodies_dropped_at=now,
        ),
        "email_events_deleted": delete_in_batches(
            EmailEvent.objects.filter(outbox__isnull=True, received_at__lt=row_cutoff),
            batch_size,
        ),
        # Lifted soft-bounce suppressions: expired ones are ignored already, this tidies up.
        "suppressions_expired_deleted": delete_in_batches(
            Suppression.objects.filter(expires_at__lt=now), batch_size
        ),
    }
    return counts
