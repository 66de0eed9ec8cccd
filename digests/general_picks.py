"""Cold start: the best general picks, for an artist whose profile matches nothing yet.

The recommender (digests.recommender) scores what a profile asks for; an artist who has not
named a medium or an interest, or whose profile fits nothing open this week, got no digest at
all. They get the run's best general picks instead: calls open to all mediums, with a good
deadline, that other artists clicked most, ranked once per run. Eligibility (country, career
stage) and what they were already sent still apply. Every pick says it is a general one, and
the email invites them to complete their profile.
"""

from digests.recommender import OPEN_TO_ALL_MEDIUMS, Catalogue, Item, Pick, deadline_points

GENERAL_PICK = "general pick"
# The most-clicked item of the run gets this much; others in proportion to their clicks.
POPULARITY = 1.0


class GeneralPicks:
    def __init__(self, catalogue: Catalogue, *, clicks: dict[int, int]):
        most = max(clicks.values(), default=0)
        ranked = []
        for item in catalogue.items:
            days_left = (item.deadline - catalogue.today).days if item.deadline else None
            points, deadline_reason = deadline_points(days_left)
            score, reasons = points, [GENERAL_PICK]
            if not item.mediums:
                score += OPEN_TO_ALL_MEDIUMS
                reasons.append("open to all mediums")
            if clicks.get(item.id):
                score += POPULARITY * clicks[item.id] / most
                artists = clicks[item.id]
                reasons.append(f"clicked by {artists} other artist{'s' if artists > 1 else ''}")
            reasons.append(deadline_reason)
            ranked.append(
                (item, Pick(item_id=item.id, score=round(score, 6), reasons=tuple(reasons)))
            )
        # Best first, then the earlier deadline (rolling last), then the lower id.
        ranked.sort(
            key=lambda pair: (
                -pair[1].score,
                pair[0].deadline is None,
                pair[0].deadline,
                pair[0].id,
            )
        )
        self._ranked: list[tuple[Item, Pick]] = ranked

    def recommend(self, profile, *, limit: int) -> list[Pick]:
        picks = []
        for item, pick in self._ranked:
            if item.id in profile.already_sent:
                continue
            if item.eligible_countries and profile.country not in item.eligible_countries:
                continue
            if item.eligible_stages and profile.career_stage not in item.eligible_stages:
                continue
            picks.append(pick)
            if len(picks) == limit:
                break
        return picks


def are_general(picks: list[Pick]) -> bool:
    return bool(picks) and picks[0].reasons[:1] == (GENERAL_PICK,)
