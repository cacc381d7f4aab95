"""python manage.py reconcile_payments [--dry-run] [--min-age MINUTES]

The reconciliation the beat task runs every minute, by hand: ask the operators about pending
payment intents and apply their answers. Without --min-age, only intents due by their
schedule (about 1, 3, 10 and 15 minutes after the push); with it, every pending intent pushed
at least that many minutes ago. --dry-run asks and prints, and changes nothing.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from payments.services.reconcile import payment_intents_reconcile


class Command(BaseCommand):
    help = "Ask operators about pending mobile-money payments and settle them."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Ask, print, change nothing.")
        parser.add_argument(
            "--min-age",
            type=int,
            default=None,
            metavar="MINUTES",
            help="Check every pending intent pushed at least this many minutes ago.",
        )

    def handle(self, *args, dry_run: bool, min_age: int | None, **options):
        if min_age is not None and min_age < 0:
            raise CommandError("--min-age must be 0 or more minutes.")
        report = payment_intents_reconcile(
            dry_run=dry_run, min_age=None if min_age is None else timedelta(minutes=min_age)
        )
        for line in report.lines:
            self.stdout.write(line)
        summary = report.as_dict()
        prefix = "[dry run] " if dry_run else ""
        self.stdout.write(
            f"{prefix}checked {summary['checked']}, changed {summary['changed'] or 0}, "
            f"operator unreachable {summary['unreachable']}, never pushed {summary['expired']}"
        )
