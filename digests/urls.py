from django.urls import path

from digests import views

app_name = "digests"
urlpatterns = [
    path("demo-sources/<str:name>", views.demo_source, name="demo_source"),
    path("opportunities/", views.opportunity_list, name="opportunities"),
    path("opportunities/<int:pk>/", views.opportunity_detail, name="opportunity"),
    path("d/open/<str:token>.gif", views.digest_open, name="open"),
    path("d/click/<str:token>/", views.digest_click, name="click"),
    path("d/<str:signal>/<str:token>/", views.digest_feedback, name="feedback"),
    path("unsubscribe/<str:token>/", views.digest_unsubscribe, name="unsubscribe"),
    path("preferences/<str:token>/", views.preferences, name="preferences"),
]
