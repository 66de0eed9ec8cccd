from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL: the outbox keeps taking reads and writes
    (enqueues, claims, results, ESP events) while the index is built over every email it
    holds. A plain CREATE INDEX elsewhere (SQLite has no CONCURRENTLY)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        operation = _operation_for(schema_editor)
        operation.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        operation = _operation_for(schema_editor)
        operation.database_backwards(self, app_label, schema_editor, from_state, to_state)


def _operation_for(schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        return AddIndexConcurrently
    return migrations.AddIndex


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("outreach", "0002_marketing_consent_soft_bounces_step_gap"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="emailoutbox",
            index=models.Index(
                condition=models.Q(("status__in", ["queued", "retry"])),
                fields=["-priority", "next_attempt_at", "id"],
                name="outbox_due_order_idx",
            ),
        ),
    ]
