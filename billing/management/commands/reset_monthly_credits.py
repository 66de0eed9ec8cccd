from django.core.management.base import CommandError

from billing.models import CreditLedgerEntry, Subscription
from billing.services.credits import credits_reset, credits_reset_due
from proletto.errors import ProlettoCommand


class Command(ProlettoCommand):
    help = (
        "Reset monthly credits by hand, as the daily job does: every yearly subscription whose "
        "reset is due, or one subscription (--subscription) to its current period unless it "
        "was already reset for it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be reset; change nothing."
        )
        parser.add_argument(
            "--subscription",
            metavar="ID",
            help="A subscription's id, or its Stripe subscription id (sub_...).",
        )

    def handle(self, *args, dry_run=False, subscription=None, **options):
        source = CreditLedgerEntry.Source.COMMAND
        if subscription is None:
            report = credits_reset_due(source=source, dry_run=dry_run)
        else:
            report = credits_reset(
                subscription_ids=[self._subscription_id(subscription)],
                source=source,
                dry_run=dry_run,
            )

        verb = "would reset" if dry_run else "reset"
        for item in report.reset:
            self.stdout.write(f"{verb} {item.describe()}")
        for subscription_id, reason in report.skipped:
            self.stdout.write(f"skipped #{subscription_id}: {reason}")
        counts = report.counts()
        summary = (
            f"{'Dry run: ' if dry_run else ''}{counts['reset']} {verb}, "
            f"{counts['caught_up']} caught up after missed periods, {counts['skipped']} skipped."
        )
        self.stdout.write(self.style.SUCCESS(summary))

    def _subscription_id(self, value: str) -> int:
        lookup = {"pk": int(value)} if value.isdigit() else {"stripe_subscription_id": value}
        found = Subscription.objects.filter(**lookup).values_list("pk", flat=True).first()
        if found is None or not value.strip():
            raise CommandError(f"no subscription with id {value!r}")
        return found
