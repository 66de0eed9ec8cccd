from django.urls import path

from digests import views

app_name = "digests"
urlpatterns = [
    path("demo-sources/<str:name>", views.demo_source, name="demo_source"),
]
