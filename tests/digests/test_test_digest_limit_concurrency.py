"""Two clicks at once from one staff user cannot both slip under the test-digest limit."""

import pytest
from django.test import Client

from digests.models import DigestEmail
from tests.billing.test_concurrency import run_together
from tests.digests.digest_data import artist, opportunity

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_requests_of_one_staff_user_send_no_more_than_the_limit(
    staff_with_permissions, settings
):
    settings.TEST_DIGEST_LIMIT_PER_HOUR = 1
    opportunity("Painting call")
    user = artist("giulia")
    staff = staff_with_permissions("digests.send_test_digest")
    codes = []

    def click():
        client = Client()
        client.force_login(staff)
        codes.append(client.post(f"/admin/api/test-digest-email/{user.pk}").status_code)

    run_together(click, click, click)
    assert sorted(codes) == [201, 429, 429]
    assert DigestEmail.objects.filter(requested_by=staff).count() == 1
