"""The digest admin API (seed 002's endpoints), JSON in and out.

Each endpoint needs staff status and one specific permission (403 JSON otherwise), not just
is_staff. Side-effecting endpoints are POST only and keep Django's CSRF check, so a browser
session needs the CSRF token (the admin pages send it); errors are JSON with a one-line reason.
"""

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from digests.errors import DigestsError
from digests.jobs import SEND_WEEKLY_DIGESTS
from digests.models import DigestEmail
from digests.services.digest import digest_send_test
from digests.weeks import week_of
from proletto.admin_api import staff_permission_required
from proletto.errors import error_response
from proletto.scheduling.jobstore import job_request_run
from proletto.scheduling.registry import SchedulingError
from proletto.scheduling.selectors import scheduler_status

VIEW_DIGESTS = "digests.view_digestemail"
SEND_TEST_DIGEST = "digests.send_test_digest"
RUN_JOB = "proletto.run_job"


def _executions_url() -> str:
    return (
        reverse("admin:django_apscheduler_djangojobexecution_changelist")
        + f"?job__id__exact={SEND_WEEKLY_DIGESTS}"
    )


@require_GET
@staff_permission_required(VIEW_DIGESTS)
def digest_scheduler_status(request):
    status = scheduler_status()
    job = next((job for job in status["jobs"] if job["id"] == SEND_WEEKLY_DIGESTS), None)
    this_week = week_of(timezone.now().date())
    counts = dict(
        DigestEmail.objects.with_delivery()
        .filter(week_start__gte=this_week)
        .exclude(status=DigestEmail.Status.TEST)
        .values_list("delivery")
        .annotate(n=Count("id"))
    )
    return JsonResponse(
        {
            "scheduled": job is not None and not job["paused"],
            "job": job,
            "leader": status["leader"],
            "leader_alive": status["alive"],
            "heartbeat_age_seconds": status["heartbeat_age_seconds"],
            "week_start": this_week.isoformat(),
            "digests_this_week": {s: counts.get(s, 0) for s in DigestEmail.Delivery.values},
            "history_url": _executions_url(),
        }
    )


@require_POST
@staff_permission_required(RUN_JOB)
def run_digest_now(request):
    try:
        run = job_request_run(job_id=SEND_WEEKLY_DIGESTS, requested_by=request.user.username)
    except SchedulingError as exc:
        return error_response(exc)
    return JsonResponse(
        {
            "requested": True,
            "run_request_id": run.pk,
            "detail": "the scheduler's leader starts it within a few seconds",
            "history_url": _executions_url(),
        },
        status=202,
    )


@require_POST
@staff_permission_required(SEND_TEST_DIGEST)
def test_digest_email(request, user_id):
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return JsonResponse({"error": f"no user with id {user_id}"}, status=404)
    try:
        digest = digest_send_test(user=user, requested_by=request.user)
    except DigestsError as exc:
        # 409 when consent refuses it (it would never be sent: not "queued"), 429 with
        # Retry-After past the rate limit, 422 for anything else.
        return error_response(exc)
    # No address in the answer: the caller names a user id, and ids must not turn into a way
    # to list everyone's email address.
    return JsonResponse(
        {
            "digest_id": digest.pk,
            "user_id": user.pk,
            "status": digest.status,
            "opportunity_count": digest.opportunity_count,
            "outbox_id": digest.outbox_id,
        },
        status=201,
    )
