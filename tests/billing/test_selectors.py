from billing.selectors import pro_subscribers, user_is_pro
from proletto.models import User


def test_pro_subscribers_are_active_or_trialing_users_on_a_pro_plan(make_subscription, free_plan):
    active = make_subscription()
    trialing = make_subscription(status="trialing")
    make_subscription(plan=free_plan)
    for status in ("past_due", "canceled", "unpaid", "incomplete", "paused"):
        make_subscription(status=status)
    deactivated = make_subscription()
    User.objects.filter(pk=deactivated.user_id).update(is_active=False)
    User.objects.create_user(username="no-subscription")

    assert set(pro_subscribers()) == {active.user, trialing.user}


def test_user_is_pro_asks_the_same_rule(make_subscription, free_plan):
    assert user_is_pro(make_subscription().user)
    assert not user_is_pro(make_subscription(plan=free_plan).user)
