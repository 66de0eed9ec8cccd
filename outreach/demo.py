"""Demo upsell sequence and sessions for `manage.py load_demo`."""

from datetime import timedelta

from django.utils import timezone

from billing.selectors import pro_subscribers
from outreach.models import UpsellSequence, UpsellStep
from outreach.services.upsell import upsell_session_start

STEPS = [
    (1, timedelta(0), "upsell_welcome"),
    (2, timedelta(days=3), "upsell_features"),
    (3, timedelta(days=12), "upsell_last_chance"),
]


def load(users) -> list[str]:
    sequence, _ = UpsellSequence.objects.update_or_create(
        code="free-to-pro",
        defaults={"name": "Free to Pro", "is_active": True, "duration": timedelta(days=14)},
    )
    for position, delay, template in STEPS:
        UpsellStep.objects.update_or_create(
            sequence=sequence, position=position, defaults={"delay": delay, "template": template}
        )
    pro_ids = set(pro_subscribers().values_list("pk", flat=True))
    free = [user for user in users if user.pk not in pro_ids][:2]
    now = timezone.now()
    sessions = [
        upsell_session_start(user=user, sequence_code=sequence.code, now=now - timedelta(days=4))
        for user in free
    ]
    return [f"upsell sequence {sequence.name!r} with {len(STEPS)} steps, {len(sessions)} sessions"]
