"""The artists' side of billing: /pro/ (plans and Stripe Checkout), its success and cancel
pages, and the "manage billing" button of the preferences page (Stripe's customer portal)."""

import logging

from django import forms
from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.exceptions import BillingError
from billing.selectors import user_is_pro
from billing.services.checkout import (
    billing_portal_session_start,
    checkout_session_start,
    pro_plans,
)
from proletto.preferences_link import (
    BadPreferencesLink,
    preferences_url,
    user_for_preferences_token,
)

logger = logging.getLogger(__name__)


class CheckoutForm(forms.Form):
    plan = forms.SlugField(max_length=40)
    email = forms.EmailField(required=False, label="Your email")


def _account(token: str | None):
    """The user a signed link from an email names (the same token as the preferences page),
    or None for a visitor; a bad or expired link is simply not used."""
    if not token:
        return None
    try:
        return user_for_preferences_token(token)
    except BadPreferencesLink:
        return None


@never_cache
@require_http_methods(["GET", "POST"])
def plans(request):
    account_token = request.POST.get("account") or request.GET.get("account") or ""
    user = _account(account_token)
    form = CheckoutForm(request.POST or None)
    error, status = None, 200
    if request.method == "POST" and form.is_valid():
        if user is None and not form.cleaned_data["email"]:
            form.add_error("email", "Enter the email address your digest should go to.")
        else:
            try:
                url = checkout_session_start(
                    plan_code=form.cleaned_data["plan"],
                    user=user,
                    email=form.cleaned_data["email"],
                )
            except BillingError as exc:
                logger.warning("checkout not started (%s): %s", exc.status, exc)
                error, status = str(exc), exc.status
            else:
                return HttpResponseRedirect(url)
    context = {
        "plans": pro_plans(),
        "form": form,
        "error": error,
        "account": user,
        "account_token": account_token if user else "",
        "already_pro": bool(user and user_is_pro(user)),
        "configured": bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET),
    }
    if request.method == "POST" and not error:
        status = 400  # the form did not validate
    return render(request, "billing/pro.html", context, status=status)


@require_GET
def success(request):
    return render(request, "billing/pro_success.html")


@require_GET
def cancel(request):
    return render(request, "billing/pro_cancel.html")


@require_POST  # CSRF-protected: the form is on the preferences page
def portal(request, token):
    try:
        user = user_for_preferences_token(token)
    except BadPreferencesLink as exc:
        return render(request, "digests/link_error.html", {"message": str(exc)}, status=400)
    try:
        url = billing_portal_session_start(user=user, return_url=preferences_url(user.pk))
    except BillingError as exc:
        logger.warning("billing portal not opened (%s): %s", exc.status, exc)
        return render(request, "digests/link_error.html", {"message": str(exc)}, status=exc.status)
    return HttpResponseRedirect(url)
