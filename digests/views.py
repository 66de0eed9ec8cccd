from django.conf import settings
from django.http import Http404, HttpResponse

from digests.demo import render_demo_source


def demo_source(request, name):
    """The demo feeds and pages, for `make demo` only: never served with DEBUG off."""
    if not settings.DEBUG:
        raise Http404("demo sources are served only with DEBUG on")
    try:
        body, content_type = render_demo_source(name)
    except FileNotFoundError as exc:
        raise Http404(f"no demo source {name!r}") from exc
    return HttpResponse(body, content_type=content_type)
