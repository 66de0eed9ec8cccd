from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from proletto.forms import ArtistChangeForm, ArtistCreationForm
from proletto.models import User

# The navigation sidebar repeats the index and takes a quarter of a 1280 px window, which the
# lists need for their last columns (status, errors); the breadcrumbs lead back to the index.
admin.site.enable_nav_sidebar = False


@admin.register(User)
class ArtistAdmin(UserAdmin):
    form = ArtistChangeForm
    add_form = ArtistCreationForm
    list_display = (
        "username",
        "email",
        "display_name",
        "country",
        "timezone",
        "digest_opt_in",
        "unsubscribed_at",
        "is_staff",
    )
    list_filter = ("digest_opt_in", "career_stage", "is_staff", "is_active", "country")
    search_fields = ("username", "email", "display_name", "city")
    fieldsets = (
        *UserAdmin.fieldsets,
        (
            "Artist profile",
            {
                "fields": (
                    "display_name",
                    "mediums",
                    "interests",
                    ("city", "country"),
                    "career_stage",
                    "timezone",
                )
            },
        ),
        ("Digest", {"fields": ("digest_opt_in", "unsubscribed_at")}),
    )
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        ("Contact", {"fields": ("email",)}),
    )


from proletto.inbox import admin as inbox_admin  # noqa: E402,F401
from proletto.scheduling import admin as scheduling_admin  # noqa: E402,F401
