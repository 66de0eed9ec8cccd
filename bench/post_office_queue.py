"""Queue emails for django-post-office, the relay's peer in bench/outbox_relay.py.

    DJANGO_SETTINGS_MODULE=bench.post_office_settings python bench/post_office_queue.py 4000

Creates post-office's tables if needed, empties its queue, and queues `count` emails with the
same recipients and bodies as the relay's (bench/outbox_relay.py's prepare). Each carries a
bench id in the header the SendGrid stand-in counts copies by, so the bench can check every
email reached it exactly once.
"""

import sys

import django


def main(count: int) -> None:
    django.setup()
    from django.core.management import call_command
    from post_office.models import PRIORITY, STATUS, Email

    call_command("migrate", verbosity=0)
    Email.objects.all().delete()
    Email.objects.bulk_create(
        (
            Email(
                from_email="Proletto <hello@proletto.local>",
                to=[f"artist{i}@example.com"],
                subject=f"Your weekly opportunities #{i}",
                message="Hello,\n\nThree open calls match your profile this week.\n",
                html_message="<p>Hello,</p><p>Three open calls match your profile this week.</p>",
                status=STATUS.queued,
                priority=PRIORITY.medium,
                # outreach.services.sending.OUTBOX_ID_HEADER (not importable without
                # Proletto's apps): the stand-in counts copies by it.
                headers={"X-Proletto-Outbox-Id": f"post-office-{i}"},
            )
            for i in range(count)
        ),
        batch_size=1000,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
