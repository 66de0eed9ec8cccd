"""The job store's job_state holds a JSON spec of the trigger (proletto.scheduling.
trigger_spec) instead of a pickled APScheduler Job. Each stored Job is read once here; a
state that cannot be read is left for the leader's next sync, which writes it anew.

Going back is refused while jobs are stored: the code before this migration unpickles
job_state with no fallback, so every scheduler would crash on the specs left behind."""

import pickle

from django.db import migrations
from django.db.migrations.exceptions import IrreversibleError


def pickled_jobs_to_trigger_specs(apps, schema_editor):
    from proletto.scheduling.trigger_spec import job_state_dump

    DjangoJob = apps.get_model("django_apscheduler", "DjangoJob")
    for row in DjangoJob.objects.all():
        try:
            state = pickle.loads(bytes(row.job_state))
            trigger = state["trigger"]
        except Exception:  # not a pickled Job (already a spec, or unreadable): leave it
            continue
        row.job_state = job_state_dump(trigger)
        row.save(update_fields=["job_state"])


def refuse_with_jobs_stored(apps, schema_editor):
    DjangoJob = apps.get_model("django_apscheduler", "DjangoJob")
    if DjangoJob.objects.exists():
        raise IrreversibleError(
            "proletto 0010 cannot be reversed with jobs stored (the older code would crash "
            "unpickling their JSON job_state): stop every scheduler and restore the "
            "django_apscheduler tables from a backup taken before 0010"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("proletto", "0009_user_digest_paused_until"),
        ("django_apscheduler", "0009_djangojobexecution_unique_job_executions"),
    ]

    operations = [
        migrations.RunPython(pickled_jobs_to_trigger_specs, refuse_with_jobs_stored),
    ]
