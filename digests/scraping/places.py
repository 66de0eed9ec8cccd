"""Country names and codes as calls write them ("Brasil", "UK", "New York, NY") to ISO 3166.

Names come from pycountry (ISO 3166 names, official and common names, and their translations
in the languages calls are written in); the few everyday names ISO does not use ("UK",
"Scotland", "South Korea") are listed here. A two-letter code after a city may be a US state,
a Canadian province or an Australian state ("Los Angeles, CA" is in the US, not Canada).
"""

import functools
import gettext
import unicodedata

import pycountry

# Translations of country names read, besides English. Earlier languages win a clash.
LANGUAGES = ("de", "fr", "es", "pt", "it", "nl", "pl", "sv", "da", "nb", "fi", "cs", "tr", "ja")
EVERYDAY_NAMES = {
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.a.": "US",
    "u.s.": "US",
    "america": "US",
    "estados unidos": "US",
    "eeuu": "US",
    "etats-unis": "US",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "russia": "RU",
    "holland": "NL",
    "the netherlands": "NL",
    "czech republic": "CZ",
    "turkey": "TR",
    "vietnam": "VN",
    "ivory coast": "CI",
    "uae": "AE",
    "hong kong sar": "HK",
}
# Subdivision codes written after a city, and the country they are in.
SUBDIVISION_COUNTRIES = ("US", "CA", "AU")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@functools.cache
def _names() -> dict[str, str]:
    names: dict[str, str] = {}

    def add(name, code):
        if name:
            names.setdefault(_fold(name), code)

    countries = list(pycountry.countries)
    for country in countries:
        for attribute in ("name", "common_name", "official_name"):
            add(getattr(country, attribute, None), country.alpha_2)
        add(country.alpha_3, country.alpha_2)
    for name, code in EVERYDAY_NAMES.items():
        names[_fold(name)] = code
    for language in LANGUAGES:
        translation = gettext.translation(
            "iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True
        )
        for country in countries:
            for attribute in ("name", "common_name"):
                english = getattr(country, attribute, None)
                if english:
                    add(translation.gettext(english), country.alpha_2)
    return names


@functools.cache
def _subdivisions() -> dict[str, str]:
    """{"NY": "US", "New York": "US", "ON": "CA", "NSW": "AU", ...}, folded."""
    found: dict[str, str] = {}
    for country in SUBDIVISION_COUNTRIES:
        for subdivision in pycountry.subdivisions.get(country_code=country):
            found.setdefault(_fold(subdivision.code.split("-", 1)[1]), country)
            found.setdefault(_fold(subdivision.name), country)
    return found


def country_from_name(text: str) -> str:
    """The ISO code a country name or code names, in any language read; "" if none."""
    folded = _fold(text)
    if folded in _names():  # before ISO codes: "UK" is the United Kingdom, not a code
        return _names()[folded]
    return folded.upper() if is_country_code(folded.upper()) else ""


def country_from_subdivision(text: str) -> str:
    """The country of a US state, Canadian province or Australian state; "" if none."""
    return _subdivisions().get(_fold(text), "")


def is_country_code(value: str) -> bool:
    return (
        len(value) == 2 and value.isupper() and pycountry.countries.get(alpha_2=value) is not None
    )
