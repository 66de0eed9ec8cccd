"""A digest's delivery (sent, failed, opened, clicked) is read from its outbox row.

Before the columns go, the opens and clicks the open pixel and the click links wrote on the
digest only are carried onto its outbox row (the earlier instant wins), and the statuses the
periodic sync copied (sent, failed) go back to what the digest run wrote: queued.
"""

from django.db import migrations, models
from django.db.models import F, OuterRef, Q, Subquery


def carry_onto_outbox(apps, schema_editor):
    DigestEmail = apps.get_model("digests", "DigestEmail")
    EmailOutbox = apps.get_model("outreach", "EmailOutbox")
    for field in ("opened_at", "clicked_at"):
        digest_value = Subquery(
            DigestEmail.objects.filter(outbox_id=OuterRef("pk")).values(field)[:1]
        )
        EmailOutbox.objects.filter(**{f"digest__{field}__isnull": False}).filter(
            Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": F(f"digest__{field}")})
        ).update(**{field: digest_value})
    DigestEmail.objects.filter(status__in=["sent", "failed"]).update(status="queued")


def restore_copies(apps, schema_editor):
    DigestEmail = apps.get_model("digests", "DigestEmail")
    EmailOutbox = apps.get_model("outreach", "EmailOutbox")
    outbox = EmailOutbox.objects.filter(pk=OuterRef("outbox_id"))
    for field in ("sent_at", "opened_at", "clicked_at"):
        DigestEmail.objects.filter(outbox__isnull=False).update(
            **{field: Subquery(outbox.values(field)[:1])}
        )
    DigestEmail.objects.filter(status="queued", outbox__status="sent").update(status="sent")
    DigestEmail.objects.filter(
        status="queued", outbox__status__in=["dead", "cancelled", "suppressed"]
    ).update(status="failed")


class Migration(migrations.Migration):
    dependencies = [
        ("digests", "0005_test_digest_requester_and_permissions"),
        ("outreach", "0002_marketing_consent_soft_bounces_step_gap"),
    ]

    operations = [
        migrations.RunPython(carry_onto_outbox, restore_copies),
        migrations.RemoveField(
            model_name="digestemail",
            name="clicked_at",
        ),
        migrations.RemoveField(
            model_name="digestemail",
            name="opened_at",
        ),
        migrations.RemoveField(
            model_name="digestemail",
            name="sent_at",
        ),
        migrations.AlterField(
            model_name="digestemail",
            name="status",
            field=models.CharField(
                choices=[("queued", "Queued"), ("skipped", "Skipped"), ("test", "Test")],
                default="queued",
                max_length=10,
            ),
        ),
    ]
