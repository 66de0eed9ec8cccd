from django.core.management.base import BaseCommand, CommandError

from proletto.models import CheckStatus
from proletto.monitoring.checks import run_checks

STYLES = {CheckStatus.OK: "SUCCESS", CheckStatus.WARNING: "WARNING", CheckStatus.FAILING: "ERROR"}


class Command(BaseCommand):
    help = (
        "Run the health checks once and print them; exit non-zero if any check fails "
        "(for cron, systemd or a container orchestrator). Stores nothing, alerts nobody."
    )

    def handle(self, *args, **options):
        results = run_checks()
        rows = [("STATUS", "CHECK", "VALUE", "SUMMARY")] + [
            (r.status.upper(), r.name, r.value, r.summary) for r in results
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for index, row in enumerate(rows):
            line = "  ".join(
                [*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3]]
            )
            if index:
                line = getattr(self.style, STYLES[results[index - 1].status])(line)
            self.stdout.write(line)
        failing = [r.name for r in results if r.status == CheckStatus.FAILING]
        warning = sum(r.status == CheckStatus.WARNING for r in results)
        if failing:
            raise CommandError(f"{len(failing)} check(s) failing: {', '.join(failing)}")
        self.stdout.write(f"{len(results)} checks: none failing, {warning} warning(s).")
