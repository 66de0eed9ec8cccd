from django.urls import path

from digests import api

app_name = "digests_api"
urlpatterns = [
    path("digest-scheduler-status", api.digest_scheduler_status, name="digest_scheduler_status"),
    path("run-digest-now", api.run_digest_now, name="run_digest_now"),
    path("test-digest-email/<int:user_id>", api.test_digest_email, name="test_digest_email"),
]
