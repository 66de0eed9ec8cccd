from django import forms
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from proletto.models import User
from proletto.vocabulary import MEDIUM_CHOICES


class TagsField(forms.CharField):
    """A list of tags edited as one comma-separated line."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value):
        return [tag.strip() for tag in (value or "").split(",") if tag.strip()]


class ArtistProfileFields(forms.ModelForm):
    mediums = forms.TypedMultipleChoiceField(
        choices=MEDIUM_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    interests = TagsField(
        required=False, help_text="Comma-separated, e.g. residency, ecology, women artists."
    )


class ArtistChangeForm(ArtistProfileFields, UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


class ArtistCreationForm(ArtistProfileFields, UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")
