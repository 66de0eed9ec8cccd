"""The job store's job_state holds a JSON spec of the trigger (proletto.scheduling.
trigger_spec) instead of a pickled APScheduler Job. Each stored Job is read once here; a
state that cannot be read is left for the leader's next sync, which writes it anew."""

import pickle

from django.db import migrations


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


class Migration(migrations.Migration):
    dependencies = [
        ("proletto", "0009_user_digest_paused_until"),
        ("django_apscheduler", "0009_djangojobexecution_unique_job_executions"),
    ]

    operations = [
        migrations.RunPython(pickled_jobs_to_trigger_specs, migrations.RunPython.noop),
    ]
