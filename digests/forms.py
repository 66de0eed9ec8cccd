import zoneinfo

import pycountry
from django import forms

from digests.models import Opportunity
from digests.preferences import DigestChoice, PreferencesChange, digest_choice
from proletto.forms import TagsField
from proletto.vocabulary import MEDIUM_CHOICES


class OpportunityFilterForm(forms.Form):
    DEADLINE_CHOICES = [
        ("", "Any deadline"),
        ("7", "Within a week"),
        ("30", "Within a month"),
        ("90", "Within three months"),
    ]

    q = forms.CharField(required=False, max_length=100, label="Search")
    medium = forms.ChoiceField(required=False, choices=[("", "Any medium"), *MEDIUM_CHOICES])
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *Opportunity.Kind.choices])
    deadline_within = forms.ChoiceField(required=False, choices=DEADLINE_CHOICES, label="Deadline")
    location = forms.CharField(
        required=False, max_length=100, help_text="A city, a two-letter country code, or remote."
    )


def _country_choices() -> list[tuple[str, str]]:
    countries = sorted((c.alpha_2, c.name) for c in pycountry.countries)
    return [("", "Not stated"), *sorted(countries, key=lambda item: item[1])]


class PreferencesForm(forms.Form):
    PAUSE_CHOICES = [(n, f"{n} week{'s' if n > 1 else ''}") for n in (1, 2, 3, 4, 6, 8, 12)]
    DIGEST_CHOICES = [
        (DigestChoice.ON, "On: every Monday at 08:00 my time"),
        (DigestChoice.PAUSED, "Paused for a while"),
        (DigestChoice.OFF, "Off"),
    ]

    mediums = forms.MultipleChoiceField(
        choices=MEDIUM_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    # Kept in the profile's interests, where the recommender matches an opportunity's kind.
    kinds = forms.MultipleChoiceField(
        choices=[
            (kind, label)
            for kind, label in Opportunity.Kind.choices
            if kind != Opportunity.Kind.OTHER
        ],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Kinds of opportunity",
    )
    interests = TagsField(
        required=False,
        max_length=500,
        help_text="Comma-separated, e.g. ecology, women artists, public space.",
    )
    country = forms.ChoiceField(choices=_country_choices, required=False)
    timezone = forms.ChoiceField(
        choices=lambda: [(z, z) for z in sorted(zoneinfo.available_timezones())],
        label="Time zone",
    )
    digest = forms.ChoiceField(
        choices=DIGEST_CHOICES, widget=forms.RadioSelect, label="Weekly digest"
    )
    pause_weeks = forms.TypedChoiceField(
        choices=PAUSE_CHOICES, coerce=int, required=False, empty_value=None, label="Pause for"
    )

    def clean(self):
        data = super().clean()
        if data.get("digest") == DigestChoice.PAUSED and not data.get("pause_weeks"):
            self.add_error("pause_weeks", "Say for how many weeks to pause the digest.")
        return data

    def change(self) -> PreferencesChange:
        data = self.cleaned_data
        kinds = data.get("kinds") or []
        return PreferencesChange(
            mediums=data["mediums"],
            interests=[*kinds, *(i for i in data["interests"] if i not in kinds)],
            country=data["country"],
            timezone=data["timezone"],
            digest=data["digest"],
            pause_weeks=data.get("pause_weeks"),
        )

    @classmethod
    def initial_for(cls, user, *, now) -> dict:
        digest, weeks = digest_choice(user, now=now)
        kinds = set(Opportunity.Kind.values)
        return {
            "mediums": user.mediums,
            "kinds": [i for i in user.interests or () if i in kinds],
            "interests": [i for i in user.interests or () if i not in kinds],
            "country": user.country,
            "timezone": user.timezone,
            "digest": digest,
            "pause_weeks": weeks,
        }
