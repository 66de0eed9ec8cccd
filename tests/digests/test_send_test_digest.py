from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from digests.models import DigestEmail
from outreach.models import EmailOutbox
from tests.digests.digest_data import artist, opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def catalogue():
    for i in range(6):
        opportunity(f"Painting call {i}")


def send(*args):
    out = StringIO()
    call_command("send_test_digest", *args, stdout=out)
    return out.getvalue()


def test_it_sends_a_test_digest_by_id_even_to_a_free_user():
    user = artist("free", pro=False)
    output = send(str(user.pk))
    digest = DigestEmail.objects.get(user=user)
    assert digest.status == DigestEmail.Status.TEST
    assert digest.outbox.recipient == "free@artists.test"
    assert "Test digest" in output


def test_it_finds_the_user_by_username():
    user = artist("giulia")
    send("giulia")
    assert DigestEmail.objects.get().user == user


def test_it_finds_the_user_by_email_in_any_case():
    user = artist("giulia")
    send("GIULIA@artists.test")
    assert DigestEmail.objects.get().user == user


def test_a_test_digest_does_not_use_up_the_weekly_one():
    user = artist("giulia")
    send("giulia")
    send("giulia")
    assert DigestEmail.objects.filter(user=user, status=DigestEmail.Status.TEST).count() == 2


def test_an_unknown_user_is_a_one_line_error():
    with pytest.raises(
        CommandError, match=r"^no user 'nobody': give a user id, a username or an email"
    ):
        send("nobody")
    assert not EmailOutbox.objects.exists()


def test_an_ambiguous_email_is_a_one_line_error():
    artist("a", email="shared@studio.test")
    artist("b", email="shared@studio.test")
    with pytest.raises(CommandError, match="names several users"):
        send("shared@studio.test")
    assert not EmailOutbox.objects.exists()


def test_dry_run_prints_picks_and_text_and_sends_nothing():
    artist("giulia")
    output = send("giulia", "--dry-run")
    assert "1. [" in output and "medium: painting" in output
    assert "Unsubscribe from all marketing email: http://" in output
    assert "Dry run: nothing was sent." in output
    assert not DigestEmail.objects.exists()
    assert not EmailOutbox.objects.exists()
