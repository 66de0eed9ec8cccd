"""The confirmation step of admin actions that send email or change money.

Django's own pattern (delete_selected): the action's first POST answers with a page saying what
will happen and what will be skipped; the page posts the same selection back with post=yes,
and only then does the action act.
"""

from django.contrib.admin import helpers
from django.template.response import TemplateResponse


def is_confirmed(request) -> bool:
    return request.POST.get("post") == "yes"


def confirmation_page(
    modeladmin,
    request,
    *,
    action: str | None,
    title: str,
    question: str,
    selected,
    will_act: list[str],
    skipped: list[str] = (),
    confirm_label: str,
    note: str = "",
):
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "media": modeladmin.media,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "selected": list(selected),
        "question": question,
        "will_act": will_act,
        "skipped": list(skipped),
        "confirm_label": confirm_label,
        "note": note,
    }
    return TemplateResponse(request, "admin/action_confirmation.html", context)
