from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from proletto import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="digests:opportunities", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/scheduler", views.healthz_scheduler, name="healthz-scheduler"),
    # These live under /admin/ but are not ModelAdmin pages: they come before
    # admin.site.urls, whose catch-all would answer them with a 404.
    path("admin/system", views.admin_system, name="admin-system"),
    path(
        "admin/system/status/",
        admin.site.admin_view(views.system_status_page),
        name="admin-system-status",
    ),
    path("admin/api/", include("digests.api_urls")),
    path("admin/", admin.site.urls),
    path("billing/", include("billing.urls")),
    # outreach wraps Anymail's tracking webhooks (clear 4xx, one transaction per batch).
    path("anymail/", include("outreach.urls")),
    path("anymail/", include("anymail.urls")),
    path("", include("billing.pro_urls")),
    path("", include("digests.urls")),
]
