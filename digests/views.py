from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from billing.selectors import user_subscription
from digests import selectors, tokens
from digests.demo import render_demo_source
from digests.errors import DigestsError
from digests.forms import OpportunityFilterForm, PreferencesForm
from digests.models import DigestItem
from digests.preferences import artist_preferences_update, digest_choice
from digests.scanners import scanner_reason
from digests.services import tracking
from proletto.preferences_link import BadPreferencesLink, user_for_preferences_token


def demo_source(request, name):
    """The demo feeds and pages, for `make demo` only: never served with DEBUG off."""
    if not settings.DEBUG:
        raise Http404("demo sources are served only with DEBUG on")
    try:
        body, content_type = render_demo_source(name)
    except FileNotFoundError as exc:
        raise Http404(f"no demo source {name!r}") from exc
    return HttpResponse(body, content_type=content_type)


# --- the weekly digest: tracking, unsubscribe, the public catalogue ---------------------------

# The smallest transparent GIF: the open pixel's answer, whatever happens.
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


@require_GET
def digest_open(request, token):
    try:
        tracking.digest_record_open(digest_id=tokens.read_open_token(token))
    except tokens.BadToken:
        pass  # a pixel never shows an error: a mangled one is simply not counted
    response = HttpResponse(PIXEL_GIF, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


# HEAD too: link scanners send it, and get the redirect without being counted.
@require_http_methods(["GET", "HEAD"])
def digest_click(request, token):
    try:
        digest_id, opportunity_id = tokens.read_click_token(token)
        url = tracking.digest_record_click(
            digest_id=digest_id,
            opportunity_id=opportunity_id,
            scanner=scanner_reason(method=request.method, meta=request.META),
        )
    except (tokens.BadToken, DigestsError) as exc:
        return render(request, "digests/link_error.html", {"message": str(exc)}, status=400)
    return HttpResponseRedirect(url)


# One click from the email, no login: the signed token names the digest's item and the
# answer, so it can only say "more like this" or "not for me" about that item.
@never_cache
@require_http_methods(["GET", "HEAD"])
def digest_feedback(request, signal, token):
    try:
        digest_id, opportunity_id = tokens.read_feedback_token(token, signal)
        item = tracking.digest_record_feedback(
            digest_id=digest_id,
            opportunity_id=opportunity_id,
            signal=signal,
            scanner=scanner_reason(method=request.method, meta=request.META),
        )
    except (tokens.BadToken, DigestsError) as exc:
        return render(request, "digests/link_error.html", {"message": str(exc)}, status=400)
    return render(
        request,
        "digests/feedback_done.html",
        {"opportunity": item.opportunity, "more": signal == DigestItem.Feedback.MORE},
    )


# One-click unsubscribe (RFC 8058) comes from mail providers with no cookie and no CSRF
# token; the signed token in the URL is what authorises it, and it can only unsubscribe.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def digest_unsubscribe(request, token):
    try:
        user_id = tokens.read_unsubscribe_token(token)
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is None:
            raise DigestsError("this unsubscribe link names no account")
    except (tokens.BadToken, DigestsError) as exc:
        return render(request, "digests/link_error.html", {"message": str(exc)}, status=400)
    if request.method == "GET":
        return render(request, "digests/unsubscribe_confirm.html", {"user": user})
    tracking.digest_unsubscribe(user_id=user.pk)
    return render(request, "digests/unsubscribe_done.html", {"user": user})


@require_GET
def opportunity_list(request):
    form = OpportunityFilterForm(request.GET or None)
    opportunities = selectors.opportunities_filtered(form.cleaned_data if form.is_valid() else {})
    page = Paginator(opportunities, 20).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "digests/opportunity_list.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


@require_GET
def opportunity_detail(request, pk):
    opportunity = get_object_or_404(selectors.open_opportunities(), pk=pk)
    return render(request, "digests/opportunity_detail.html", {"opportunity": opportunity})


# --- the artist's preferences, from the signed link in every email ---------------------------


@never_cache  # the page shows one artist's profile: no shared cache may keep it
@require_http_methods(["GET", "POST"])
def preferences(request, token):
    """No password: the signed, expiring link names the user, and the form (CSRF-protected
    like every POST here) can only change that user."""
    try:
        user = user_for_preferences_token(token)
    except BadPreferencesLink as exc:
        return render(request, "digests/link_error.html", {"message": str(exc)}, status=400)
    now = timezone.now()
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            try:
                artist_preferences_update(user=user, change=form.change(), now=now)
            except (DigestsError, ValidationError) as exc:
                form.add_error(None, exc)
            else:
                return HttpResponseRedirect(f"{request.path}?saved=1")
    else:
        form = PreferencesForm(initial=PreferencesForm.initial_for(user, now=now))
    digest, pause_weeks = digest_choice(user, now=now)
    return render(
        request,
        "digests/preferences.html",
        {
            "user": user,
            "form": form,
            "token": token,
            "saved": request.GET.get("saved") == "1" and request.method == "GET",
            "subscription": user_subscription(user),
            "digest_state": digest,
            "paused_until": user.digest_paused_until if pause_weeks else None,
        },
        status=200 if request.method == "GET" or form.is_valid() else 400,
    )
