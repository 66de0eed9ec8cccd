"""The maintained vocabulary of mediums: what artists pick in their profile and what scraped
opportunities are tagged with, so the two can be matched exactly.

Synonyms map the words found in the wild (feeds, forms) onto one canonical medium.
"""

MEDIUMS = {
    "painting": "Painting",
    "drawing": "Drawing",
    "sculpture": "Sculpture",
    "photography": "Photography",
    "printmaking": "Printmaking",
    "ceramics": "Ceramics",
    "textile": "Textile & fibre",
    "installation": "Installation",
    "video": "Video & film",
    "digital": "Digital & new media",
    "performance": "Performance",
    "illustration": "Illustration",
    "sound": "Sound art",
    "public-art": "Public art & murals",
    "mixed-media": "Mixed media",
    "craft": "Craft & design",
}

MEDIUM_SYNONYMS = {
    "paint": "painting",
    "paintings": "painting",
    "oil painting": "painting",
    "watercolor": "painting",
    "watercolour": "painting",
    "acrylic": "painting",
    "drawings": "drawing",
    "works on paper": "drawing",
    "sculptures": "sculpture",
    "3d": "sculpture",
    "photo": "photography",
    "photographs": "photography",
    "lens-based": "photography",
    "prints": "printmaking",
    "print": "printmaking",
    "etching": "printmaking",
    "ceramic": "ceramics",
    "clay": "ceramics",
    "pottery": "ceramics",
    "textiles": "textile",
    "fiber": "textile",
    "fibre": "textile",
    "fiber art": "textile",
    "installations": "installation",
    "film": "video",
    "moving image": "video",
    "video art": "video",
    "new media": "digital",
    "digital art": "digital",
    "net art": "digital",
    "performance art": "performance",
    "live art": "performance",
    "illustrations": "illustration",
    "sound art": "sound",
    "audio": "sound",
    "public art": "public-art",
    "mural": "public-art",
    "murals": "public-art",
    "street art": "public-art",
    "mixed media": "mixed-media",
    "multidisciplinary": "mixed-media",
    "design": "craft",
    "crafts": "craft",
}

MEDIUM_CHOICES = sorted(MEDIUMS.items(), key=lambda item: item[1])


def normalise_medium(word: str) -> str | None:
    """The canonical medium for a word from a profile form or a feed, or None if unknown."""
    key = " ".join(word.strip().lower().replace("_", " ").split())
    if key in MEDIUMS:
        return key
    if key.replace(" ", "-") in MEDIUMS:
        return key.replace(" ", "-")
    return MEDIUM_SYNONYMS.get(key)


def normalise_tag(word: str) -> str:
    """Tags are free words, compared lower-case with single spaces."""
    return " ".join(word.strip().lower().split())
