"""`python manage.py run_dunning [--date YYYY-MM-DD] [--dry-run] [--operator SLUG]`.

Runs the daily dunning (billing.services.dunning, the code the beat task runs) for every
operator, or one: as of each operator's local date, or `--date`. Safe to run again: a stage
acts once per invoice. `--dry-run` reports what would happen and changes nothing (each chunk
is rolled back). A real run holds the same lock as the beat task and refuses to start while
another run holds it.
"""

import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from billing.models import Operator
from billing.services.dunning import COUNTS, dunning_candidates, dunning_run
from billing.services.dunning_schedule import (
    dunning_lock,
    dunning_run_recorded,
    operator_local_now,
)


def date_parse(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise CommandError(f"{text!r} is not a date written YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "Send due reminders, charge late penalties and cut off by each dunning policy."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="run as of this date, YYYY-MM-DD (default: today)")
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")
        parser.add_argument("--operator", help="the operator's slug (default: every operator)")

    def handle(self, *args, **options):
        on_date = date_parse(options["date"]) if options["date"] else None
        operators = Operator.objects.order_by("pk")
        if options["operator"]:
            operators = operators.filter(slug=options["operator"])
            if not operators.exists():
                raise CommandError(f"no operator with slug {options['operator']!r}")
        if options["dry_run"]:
            self._run(operators, on_date, dry_run=True)
            return
        with dunning_lock() as held:
            if not held:
                raise CommandError("another dunning run is in progress; try again later")
            self._run(operators, on_date, dry_run=False)

    def _run(self, operators, on_date, *, dry_run: bool) -> None:
        for operator in operators:
            day = on_date or operator_local_now(operator).date()
            total = dunning_candidates(operator=operator, on_date=day).count()
            with tqdm(total=total, desc=operator.slug, unit="invoice", file=sys.stderr) as bar:
                if dry_run:
                    summary = dunning_run(
                        operator=operator, on_date=day, dry_run=True, progress=bar.update
                    )
                else:
                    summary = dunning_run_recorded(
                        operator=operator, on_date=day, progress=bar.update
                    )
            self._table(operator, day, summary, dry_run)

    def _table(self, operator: Operator, day: date, summary: dict, dry_run: bool) -> None:
        title = f"{operator.slug} {day:%Y-%m-%d}" + (
            " (dry run: nothing changed)" if dry_run else ""
        )
        self.stdout.write(self.style.MIGRATE_HEADING(title))
        width = max([len("stage"), len("total"), *map(len, summary["stages"])])
        self.stdout.write(f"{'stage':<{width}} " + " ".join(f"{name:>11}" for name in COUNTS))
        rows = [*summary["stages"].items(), ("total", summary["totals"])]
        for code, counts in rows:
            self.stdout.write(
                f"{code:<{width}} " + " ".join(f"{counts[name]:>11}" for name in COUNTS)
            )
        plans = summary["plans"]
        self.stdout.write(
            f"invoices looked at: {summary['invoices']}; instalment plans completed: "
            f"{plans['completed']}, broken: {plans['broken']}"
        )
