"""Every email Proletto sends, produced by the code that sends it, and every link in it requested:
each answers 2xx or 3xx (no 404 in any email)."""

import datetime as dt
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine
from bs4 import BeautifulSoup
from django.conf import settings as django_settings
from django.test import Client

from digests.services.digest import digests_send_due
from outreach.models import EmailOutbox, UpsellSequence, UpsellStep
from outreach.services.upsell import upsell_process_due, upsell_session_start
from proletto.models import CheckStatus
from proletto.monitoring import registry
from proletto.monitoring import services as monitoring
from proletto.monitoring.results import CheckResult
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db

TEMPLATES = Path(django_settings.BASE_DIR) / "templates" / "email"
SITE = "https://proletto.example"
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')]+")


def send_every_email(monkeypatch, settings):
    """Queue each kind of email the way the project does; returns the outbox rows."""
    settings.SITE_URL = SITE
    settings.ADMINS = [("Ops", "ops@proletto.test")]
    for i in range(3):
        opportunity(f"Painting call {i}")
    artist("pro-artist")
    free = artist("free-artist", pro=False)
    digests_send_due(now=NOW)

    sequence = UpsellSequence.objects.create(
        code="free-to-pro", name="Free to Pro", duration=dt.timedelta(days=30)
    )
    templates = sorted(p.name for p in TEMPLATES.iterdir() if p.name.startswith("upsell_"))
    for position, template in enumerate(templates, start=1):
        UpsellStep.objects.create(
            sequence=sequence, position=position, delay=dt.timedelta(0), template=template
        )
    upsell_session_start(user=free, sequence_code="free-to-pro", now=NOW)
    for step in range(len(templates)):
        with time_machine.travel(NOW + dt.timedelta(days=2 * step), tick=False):
            upsell_process_due()
            EmailOutbox.objects.filter(category="upsell").update(
                status=EmailOutbox.Status.SENT, sent_at=NOW + dt.timedelta(days=2 * step)
            )

    status = {"value": CheckStatus.OK}
    monkeypatch.setattr(
        registry,
        "health_checks",
        lambda: [lambda now: [CheckResult("probe", status["value"], "1", "probe")]],
    )
    for minutes, value in [(0, CheckStatus.OK), (5, CheckStatus.FAILING)]:
        status["value"] = value
        with time_machine.travel(NOW + dt.timedelta(minutes=minutes), tick=False):
            monitoring.health_run()
    return list(EmailOutbox.objects.order_by("id"))


def links_in(row) -> set[str]:
    soup = BeautifulSoup(row.body_html or "", "html.parser")
    links = {a["href"] for a in soup.find_all("a", href=True)}
    links |= {img["src"] for img in soup.find_all("img", src=True)}
    links |= set(URL_IN_TEXT.findall(row.body_text))
    links |= {
        value.strip("<>") for name, value in row.headers.items() if name == "List-Unsubscribe"
    }
    return links


def test_every_template_is_sent_by_this_test(monkeypatch, settings):
    sent = {row.template for row in send_every_email(monkeypatch, settings)}
    assert sent == {p.name for p in TEMPLATES.iterdir() if p.is_dir()}


def test_every_link_in_every_email_answers_2xx_or_3xx(
    monkeypatch, settings, django_user_model, client
):
    rows = send_every_email(monkeypatch, settings)
    django_user_model.objects.create_superuser("ops", "ops@proletto.test", "pw-123456789")
    admin = Client()
    admin.login(username="ops", password="pw-123456789")
    checked, broken = 0, []
    for row in rows:
        # Alerts go to admins, who follow their links logged in; marketing to anyone.
        browser = admin if row.category == "alert" else client
        for link in sorted(links_in(row)):
            if not link.startswith(SITE):
                broken.append((row.template, link, "not on this site"))
                continue
            parts = urlsplit(link)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            status = browser.get(path).status_code
            checked += 1
            if not 200 <= status < 400:
                broken.append((row.template, link, status))
    assert broken == []
    assert checked >= len(rows) * 2
