from django import forms

from digests.models import Opportunity
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
