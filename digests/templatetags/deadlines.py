"""{% deadline opportunity %}: the deadline in words for whoever reads the page."""

from django import template

from digests.deadlines import opportunity_deadline_label

register = template.Library()


@register.simple_tag(takes_context=True)
def deadline(context, opportunity):
    request = context.get("request")
    user = getattr(request, "user", None)
    reader_zone = user.timezone if user is not None and user.is_authenticated else None
    return opportunity_deadline_label(opportunity, reader_zone)
