"""Artists, subscriptions and a small catalogue for the digest tests."""

import datetime as dt
import itertools

from billing.models import Plan, Subscription
from digests.models import Opportunity
from proletto.models import User

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)  # Monday 10:00 in Rome
_counter = itertools.count(1)


def plan(code="pro", is_pro=True):
    return Plan.objects.get_or_create(
        code=code, defaults={"name": code.title(), "monthly_credits": 10, "is_pro": is_pro}
    )[0]


def artist(username=None, *, pro=True, **fields):
    username = username or f"artist{next(_counter)}"
    defaults = {
        "email": f"{username}@artists.test",
        "display_name": username.title(),
        "mediums": ["painting"],
        "interests": ["residency"],
        "country": "IT",
        "timezone": "Europe/Rome",
    }
    user = User.objects.create_user(username=username, **{**defaults, **fields})
    Subscription.objects.create(
        user=user,
        plan=plan("pro", True) if pro else plan("free", False),
        billing_anchor=NOW - dt.timedelta(days=40),
    )
    return user


def opportunity(title=None, **fields):
    n = next(_counter)
    defaults = {
        "title": title or f"Open call {n}",
        "organisation": "Fondazione Test",
        "url": f"https://calls.example/{n}",
        "kind": Opportunity.Kind.OPEN_CALL,
        "description": "A call for artists.",
        "deadline": NOW + dt.timedelta(days=20 + n % 7),
        "country": "IT",
        "city": "Venezia",
        "mediums": ["painting"],
        "tags": [],
        "first_seen_at": NOW - dt.timedelta(days=3),
        "last_seen_at": NOW,
        "content_hash": f"h{n}",
    }
    return Opportunity.objects.create(**{**defaults, **fields})
