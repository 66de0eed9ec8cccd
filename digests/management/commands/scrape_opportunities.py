from django.core.management.base import CommandError

from digests.models import OpportunitySource
from digests.selectors import sources_due
from digests.services.scrape import opportunities_scrape
from proletto.errors import ProlettoCommand


def _plain(text: str) -> str:
    # Progress is information, not an error: not in the stderr wrapper's red.
    return text


STATUS_STYLES = {"ok": "SUCCESS", "not_modified": "SUCCESS", "failed": "ERROR", "busy": "WARNING"}


class Command(ProlettoCommand):
    help = (
        "Scrape opportunity sources: every due, enabled source, or the ones named with "
        "--source (now, whatever their schedule). Upserts by canonical URL; expires past ones. "
        "The table and summary go to stdout, progress to stderr; exits 1 if any source failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--source",
            action="append",
            dest="sources",
            metavar="NAME",
            help="Scrape this source now (repeatable). Default: every due, enabled source.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Fetch and parse, but write nothing."
        )
        parser.add_argument("--timeout", type=float, help="Seconds per request.")

    def handle(self, *args, sources=None, dry_run=False, timeout=None, **options):
        if timeout is not None and timeout <= 0:
            raise CommandError("--timeout must be a positive number of seconds")
        total = len(sources) if sources else sources_due().count()
        if total == 0:
            enabled = OpportunitySource.objects.filter(enabled=True).count()
            self.stdout.write(f"No source is due ({enabled} enabled). Nothing to do.")
            return
        progress = Progress(self, total)
        summary = opportunities_scrape(
            source_names=sources, dry_run=dry_run, timeout=timeout, on_result=progress.step
        )
        progress.finish()
        self.write_table(summary)
        counts = summary.as_counts()
        if dry_run:
            done = f"Dry run: would create {counts['created']}, update {counts['updated']}"
        else:
            done = f"Created {counts['created']}, updated {counts['updated']}"
        line = (
            f"{done}, unchanged {counts['unchanged']}, "
            f"skipped items {counts['skipped_items']}, "
            f"{'would expire' if dry_run else 'expired'} {counts['expired']}; "
            f"{counts['sources']} sources, {counts['failed']} failed."
        )
        style = self.style.WARNING if summary.failed else self.style.SUCCESS
        self.stdout.write(style(line))
        failed = sorted(result.name for result in summary.results if result.status == "failed")
        if failed:
            # A script or cron wrapper must see it: a failed source is a failed run.
            raise CommandError(
                f"{len(failed)} of {counts['sources']} sources failed: {', '.join(failed)}"
            )

    def write_table(self, summary):
        headers = [
            "source",
            "status",
            "items",
            "new",
            "updated",
            "same",
            "skipped",
            "secs",
            "error",
        ]
        rows = [
            [
                result.name,
                result.status,
                result.items,
                result.created,
                result.updated,
                result.unchanged,
                result.skipped + result.duplicates,
                f"{result.seconds:.1f}",
                result.error[:80],
            ]
            for result in sorted(summary.results, key=lambda r: r.name)
        ]
        widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
        for index, row in enumerate([headers, *rows]):
            cells = zip(row, widths, strict=True)
            line = "  ".join(str(cell).ljust(width) for cell, width in cells).rstrip()
            if index and row[1] in STATUS_STYLES:
                line = getattr(self.style, STATUS_STYLES[row[1]])(line)
            self.stdout.write(line)


class Progress:
    """On stderr (stdout holds only the table and summary): a bar redrawn in place on a
    terminal; one plain line per source otherwise."""

    WIDTH = 30

    def __init__(self, command, total: int):
        self.command, self.total, self.done = command, total, 0
        self.tty = command.stderr.isatty()

    def step(self, result):
        self.done += 1
        out = self.command.stderr
        if self.tty:
            filled = int(self.WIDTH * self.done / max(self.total, 1))
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            out.write(
                f"\r[{bar}] {self.done}/{self.total} {result.name[:40]:<40}",
                ending="",
                style_func=_plain,
            )
            out.flush()
        else:
            detail = f": {result.error}" if result.error else ""
            out.write(
                f"[{self.done}/{self.total}] {result.name} {result.status}{detail}",
                style_func=_plain,
            )

    def finish(self):
        if self.tty:
            self.command.stderr.write("")
