import pytest

from proletto.models import User

pytestmark = pytest.mark.django_db


def test_admin_saves_a_profile_with_mediums_and_comma_separated_interests(admin_client):
    user = User.objects.create_user("kwame", "kwame@example.com", "pw-123456789")
    response = admin_client.post(
        f"/admin/proletto/user/{user.pk}/change/",
        {
            "username": "kwame",
            "email": "kwame@example.com",
            "display_name": "Kwame Mensah",
            "mediums": ["sculpture", "installation"],
            "interests": "Public space, ecology",
            "city": "Accra",
            "country": "GH",
            "timezone": "Africa/Accra",
            "digest_opt_in": "on",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.mediums == ["installation", "sculpture"]
    assert user.interests == ["ecology", "public space"]


def test_admin_shows_a_form_error_for_a_bad_time_zone(admin_client):
    user = User.objects.create_user("lena", "lena@example.com", "pw-123456789")
    response = admin_client.post(
        f"/admin/proletto/user/{user.pk}/change/",
        {
            "username": "lena",
            "timezone": "Berlin",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
        },
    )
    assert response.status_code == 200
    assert "Berlin is not an IANA time zone name" in response.content.decode()
    user.refresh_from_db()
    assert user.timezone == "UTC"


def test_admin_user_list_renders(admin_client):
    User.objects.create_user("aiko", "aiko@example.com", "pw-123456789", timezone="Asia/Tokyo")
    response = admin_client.get("/admin/proletto/user/")
    assert response.status_code == 200
    assert "aiko" in response.content.decode()
