"""The digest admin's delivery columns and filter: how each digest's email fared, read from
its outbox row (DigestEmail.objects.with_delivery())."""

from django.contrib import admin

from digests.models import DigestEmail


def outbox_time(name: str):
    # A time of the digest's email, joined from its outbox row by with_delivery().
    @admin.display(description=name.replace("_", " "), ordering=name)
    def show(self, digest):
        return getattr(digest, name)

    return show


class DeliveryFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return DigestEmail.Delivery.choices

    def queryset(self, request, queryset):
        if self.value() in DigestEmail.Delivery.values:
            return queryset.filter(delivery=self.value())
        return queryset
