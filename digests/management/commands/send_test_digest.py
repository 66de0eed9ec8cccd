from django.core.management.base import CommandError
from django.template.loader import render_to_string

from digests import selectors
from digests.models import Opportunity
from digests.rendering import DigestCards
from digests.services.digest import digest_picks_for, digest_send_test
from digests.services.digest_email import digest_email_context
from proletto.errors import ProlettoCommand


class Command(ProlettoCommand):
    help = (
        "Send USER the digest they would get now, whatever their subscription, recorded with "
        "status 'test'. USER is an id, a username or an email."
    )

    def add_arguments(self, parser):
        parser.add_argument("user", help="user id, username or email")
        parser.add_argument(
            "--dry-run", action="store_true", help="print the picks and the text; send nothing"
        )

    def handle(self, *args, user, dry_run, **options):
        target = selectors.user_by_reference(user)
        if dry_run:
            self.print_dry_run(target)
            return
        digest = digest_send_test(user=target)
        self.stdout.write(
            self.style.SUCCESS(
                f"Test digest #{digest.pk} with {digest.opportunity_count} opportunities queued "
                f"for {digest.outbox.recipient} (outbox #{digest.outbox_id})."
            )
        )

    def print_dry_run(self, user):
        picks = digest_picks_for(user=user)
        if not picks:
            raise CommandError(
                f"no open opportunity fits {user.username}'s profile: nothing would be sent"
            )
        opportunities = Opportunity.objects.in_bulk([pick.item_id for pick in picks])
        self.stdout.write(f"Digest for {user.username} <{user.email}>, {len(picks)} picks:")
        for position, pick in enumerate(picks, start=1):
            self.stdout.write(
                f"  {position}. [{pick.score:.2f}] {opportunities[pick.item_id].title}"
                f" — {'; '.join(pick.reasons)}"
            )
        context, _ = digest_email_context(
            user={field: getattr(user, field) for field in selectors.PROFILE_FIELDS},
            digest_id=None,
            opportunity_ids=[pick.item_id for pick in picks],
            cards=DigestCards(opportunities.values()),
        )
        self.stdout.write("\n" + render_to_string("email/weekly_digest/body.txt", context))
        self.stdout.write(self.style.WARNING("Dry run: nothing was sent."))
