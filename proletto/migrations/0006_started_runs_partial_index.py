# The leader looks for "Started" runs at every poll (orphans to close); the history holds
# every run for JOB_EXECUTION_RETENTION_DAYS and django-apscheduler does not index `status`.
# A partial index over the few started rows keeps that look-up from scanning the history. It
# is added here as SQL (PostgreSQL and SQLite both have partial indexes) because the model
# is django-apscheduler's.

from django.db import migrations

INDEX = "proletto_execution_started"
TABLE = "django_apscheduler_djangojobexecution"


class Migration(migrations.Migration):
    dependencies = [
        ("proletto", "0005_job_run_owner_and_runjob_instances"),
        ("django_apscheduler", "0009_djangojobexecution_unique_job_executions"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX {INDEX} ON {TABLE} (id) WHERE status = 'Started execution'",
            reverse_sql=f"DROP INDEX {INDEX}",
        )
    ]
