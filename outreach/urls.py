"""Every Anymail tracking webhook (/anymail/<esp>/tracking/), wrapped by outreach.views.

Included before anymail.urls, so these patterns answer first; inbound webhooks stay Anymail's.
"""

from anymail import urls as anymail_urls
from django.urls import URLPattern

from outreach.views import tracking_webhook

app_name = "outreach"
urlpatterns = [
    URLPattern(pattern.pattern, tracking_webhook(pattern.callback), name=pattern.name)
    for pattern in anymail_urls.urlpatterns
    if pattern.name and pattern.name.endswith("_tracking_webhook")
]
