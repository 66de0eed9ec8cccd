"""Demo artists for `manage.py load_demo`: varied mediums, interests, places and time zones."""

from proletto.models import User

ARTISTS = [
    (
        "giulia",
        "Giulia Bianchi",
        ["painting", "drawing"],
        ["figurative", "residency"],
        "Venezia",
        "IT",
        "Europe/Rome",
        "emerging",
    ),
    (
        "kwame",
        "Kwame Mensah",
        ["sculpture", "installation"],
        ["public space", "ecology"],
        "Accra",
        "GH",
        "Africa/Accra",
        "mid-career",
    ),
    (
        "aiko",
        "Aiko Tanaka",
        ["ceramics", "craft"],
        ["craft", "residency"],
        "Kyoto",
        "JP",
        "Asia/Tokyo",
        "established",
    ),
    (
        "maria",
        "María López",
        ["photography", "video"],
        ["documentary", "migration"],
        "Ciudad de México",
        "MX",
        "America/Mexico_City",
        "emerging",
    ),
    (
        "sam",
        "Sam Carter",
        ["digital", "sound"],
        ["technology", "grants"],
        "Chicago",
        "US",
        "America/Chicago",
        "mid-career",
    ),
    (
        "lena",
        "Lena Müller",
        ["printmaking", "illustration"],
        ["books", "women artists"],
        "Berlin",
        "DE",
        "Europe/Berlin",
        "emerging",
    ),
    (
        "tane",
        "Tane Walker",
        ["public-art", "painting"],
        ["murals", "community"],
        "Auckland",
        "NZ",
        "Pacific/Auckland",
        "mid-career",
    ),
    (
        "priya",
        "Priya Nair",
        ["textile", "mixed-media"],
        ["feminism", "fellowship"],
        "Mumbai",
        "IN",
        "Asia/Kolkata",
        "student",
    ),
]


def load() -> tuple[list[User], list[str]]:
    users = []
    for username, name, mediums, interests, city, country, zone, stage in ARTISTS:
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={
                "email": f"{username}@artists.example",
                "display_name": name,
                "mediums": mediums,
                "interests": interests,
                "city": city,
                "country": country,
                "timezone": zone,
                "career_stage": stage,
                "digest_opt_in": True,
            },
        )
        if not user.has_usable_password():
            user.set_password(f"{username}-demo-password")
            user.save(update_fields=["password"])
        users.append(user)
    return users, [f"{len(users)} artists"]
