from django.urls import path

from billing import pro_views

app_name = "pro"
urlpatterns = [
    path("pro/", pro_views.plans, name="plans"),
    path("pro/success/", pro_views.success, name="success"),
    path("pro/cancel/", pro_views.cancel, name="cancel"),
    path("preferences/<str:token>/billing/", pro_views.portal, name="portal"),
]
