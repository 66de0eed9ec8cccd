import json

from django.core.management.base import BaseCommand, CommandError

from proletto.models import CheckStatus
from proletto.monitoring.registry import run_checks

STYLES = {CheckStatus.OK: "SUCCESS", CheckStatus.WARNING: "WARNING", CheckStatus.FAILING: "ERROR"}
ORDER = {CheckStatus.FAILING: 0, CheckStatus.WARNING: 1, CheckStatus.OK: 2}


class Command(BaseCommand):
    help = (
        "Run the health checks once and print a one-line verdict, then the failing checks, "
        "then the rest; exit non-zero if any check fails (for cron, systemd or a container "
        "orchestrator). Stores nothing, alerts nobody."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print the result as JSON."
        )

    def handle(self, *args, as_json: bool = False, **options):
        results = sorted(run_checks(), key=lambda r: (ORDER[r.status], r.name))
        failing = [r.name for r in results if r.status == CheckStatus.FAILING]
        warning = [r.name for r in results if r.status == CheckStatus.WARNING]
        verdict = "failing" if failing else "warning" if warning else "ok"
        if as_json:
            self._print_json(results, verdict)
        else:
            self._print_table(results, verdict, failing, warning)
        if failing:
            raise CommandError(f"{len(failing)} check(s) failing: {', '.join(failing)}")

    def _print_json(self, results, verdict) -> None:
        body = {
            "ok": verdict != "failing",
            "verdict": verdict,
            "checks": [
                {"name": r.name, "status": str(r.status), "value": r.value, "summary": r.summary}
                for r in results
            ],
        }
        self.stdout.write(json.dumps(body, indent=2))

    def _print_table(self, results, verdict, failing, warning) -> None:
        if failing:
            line = f"FAILING: {len(failing)} of {len(results)} checks fail: {', '.join(failing)}"
        elif warning:
            line = f"WARNING: none fails, {len(warning)} warn: {', '.join(warning)}"
        else:
            line = f"OK: all {len(results)} checks pass"
        self.stdout.write(getattr(self.style, STYLES[CheckStatus(verdict)])(line))
        rows = [("STATUS", "CHECK", "VALUE", "SUMMARY")] + [
            (r.status.upper(), r.name, r.value, r.summary) for r in results
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for index, row in enumerate(rows):
            text = "  ".join(
                [*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3]]
            )
            if index:
                text = getattr(self.style, STYLES[results[index - 1].status])(text)
            self.stdout.write(text)
