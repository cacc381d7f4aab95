"""`python manage.py run_billing --period 2026-11 [--operator SLUG]`: the monthly billing run.

Safe to run again: accounts already invoiced for the period are skipped.
"""

import re
import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from tqdm import tqdm

from billing.models import AccountStatus, Operator
from billing.services.billing_run import billing_run

_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")


def period_parse(text: str) -> date:
    """'2026-11' -> date(2026, 11, 1); anything else raises ValueError."""
    match = _PERIOD.fullmatch((text or "").strip())
    if not match:
        raise ValueError(f"{text!r} is not a month written YYYY-MM")
    year, month = (int(part) for part in match.groups())
    if not 1 <= month <= 12 or year < 2000:
        raise ValueError(f"{text!r} is not a month written YYYY-MM")
    return date(year, month, 1)


class Command(BaseCommand):
    help = "Invoice every active service account for a month (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="the month to bill, YYYY-MM")
        parser.add_argument("--operator", help="the operator's slug (default: every operator)")
        parser.add_argument(
            "--workers", type=int, default=1, help="billing processes (PostgreSQL; default 1)"
        )

    def handle(self, *args, **options):
        try:
            period = period_parse(options["period"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        if options["workers"] < 1 or (options["workers"] > 1 and connection.vendor != "postgresql"):
            raise CommandError("--workers must be 1, or more on PostgreSQL")
        operators = Operator.objects.order_by("pk")
        if options["operator"]:
            operators = operators.filter(slug=options["operator"])
            if not operators.exists():
                raise CommandError(f"no operator with slug {options['operator']!r}")
        for operator in operators:
            total = operator.accounts.filter(status=AccountStatus.ACTIVE).count()
            with tqdm(total=total, desc=operator.slug, unit="account", file=sys.stderr) as bar:
                summary = billing_run(
                    operator=operator,
                    period=period,
                    progress=bar.update,
                    workers=options["workers"],
                )
            line = (
                f"{operator.slug} {period:%Y-%m}: {summary['created']} created, "
                f"{summary['skipped']} skipped, {summary['errors']} errors"
            )
            if summary["error_codes"]:
                codes = ", ".join(
                    f"{code} {n}" for code, n in sorted(summary["error_codes"].items())
                )
                line += f" ({codes})"
            style = self.style.WARNING if summary["errors"] else self.style.SUCCESS
            self.stdout.write(style(line))
