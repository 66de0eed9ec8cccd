"""Entry fees as calls write them ("€1,000", "1.000 €", "CHF 1'200.50", "Free") to an amount
and an ISO 4217 currency.

Amounts go through price-parser, which knows the thousands and decimal separators of every
locale: a hand-written pattern read "€1,000" as 1.00. A range ("$10–$25") keeps its lower
bound; the text itself is stored beside the amount, so the reader sees the whole range.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pycountry
from price_parser import Price

from .text import plain_text

MAX_AMOUNT = Decimal("100000000")
# Words that open a fee text meaning "nothing to pay", in the languages calls are written in.
FREE_WORDS = (
    "free",
    "no fee",
    "no entry fee",
    "no application fee",
    "no cost",
    "none",
    "gratuit",
    "gratis",
    "gratuito",
    "gratuita",
    "kostenlos",
    "keine gebühr",
    "sin costo",
    "sem custo",
    "nessun costo",
)
# Signs price-parser returns as the currency, for those that are not an ISO code already.
# A bare "$" is taken as US dollars: by far the most common, and the code is shown to the
# reader ("Fee 25 USD"), so a Canadian call's "$25" is at worst visibly marked.
CURRENCY_SIGNS = {
    "$": "USD",
    "US$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "R$": "BRL",
    "A$": "AUD",
    "AU$": "AUD",
    "C$": "CAD",
    "CA$": "CAD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
    "₩": "KRW",
    "zł": "PLN",
    "₺": "TRY",
    "₽": "RUB",
    "Fr.": "CHF",
}


@dataclass(frozen=True)
class Fee:
    amount: Decimal | None  # 0 = free, None = not stated / unreadable
    currency: str  # ISO 4217, or "" when free or unknown


def read_fee(value) -> Fee:
    text = plain_text(value)
    if not text:
        return Fee(None, "")
    lowered = text.lower()
    if lowered.startswith(FREE_WORDS) or lowered in ("0", "0.00"):
        return Fee(Decimal("0"), "")
    price = Price.fromstring(text)
    if price.amount is None:
        return Fee(None, "")
    try:
        amount = Decimal(price.amount).quantize(Decimal("0.01"))
    except InvalidOperation:
        return Fee(None, "")
    if not 0 <= amount < MAX_AMOUNT:
        return Fee(None, "")
    return Fee(amount, currency_code(price.currency or ""))


def currency_code(sign: str) -> str:
    """The ISO 4217 code of a sign or code as written; "" if it names no real currency."""
    sign = sign.strip()
    if sign in CURRENCY_SIGNS:
        return CURRENCY_SIGNS[sign]
    if len(sign) == 3 and pycountry.currencies.get(alpha_3=sign.upper()):
        return sign.upper()
    return ""


def is_currency_code(value: str) -> bool:
    return len(value) == 3 and value.isupper() and bool(pycountry.currencies.get(alpha_3=value))
