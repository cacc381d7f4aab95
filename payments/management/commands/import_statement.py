"""python manage.py import_statement mpesa FILE.csv [--dry-run]

Match an operator statement against our records by receipt: print what is on the statement
but not in our books and what is in our books but not on the statement; without --dry-run,
record the missing money (credited to the account it names, or parked in suspense). Safe to
run again on the same file. The accepted columns are described in payments/services/
statements.py.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from payments.services.statements import StatementInvalid, statement_parse, statement_reconcile

PROVIDERS = ("mpesa",)


class Command(BaseCommand):
    help = "Match an M-Pesa statement CSV against recorded payments by receipt."

    def add_arguments(self, parser):
        parser.add_argument("provider", choices=PROVIDERS)
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="List, record nothing.")

    def handle(self, *args, provider: str, file: Path, dry_run: bool, **options):
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        try:
            lines = statement_parse(text)
        except StatementInvalid as exc:
            raise CommandError(exc.message) from exc
        report = statement_reconcile(provider=provider, lines=lines, dry_run=dry_run)
        out = self.stdout.write
        out(f"{report.lines} money-in lines, {len(report.matched)} matched by receipt")
        out(f"On the statement, not in our books: {len(report.missing_ours)}")
        for line in report.missing_ours:
            done = report.recorded.get(line.receipt, "not recorded (dry run)")
            out(
                f"  {line.receipt} {line.completed_at:%Y-%m-%d %H:%M} {line.amount} "
                f"account {line.account_reference or '?'}: {done}"
            )
        out(f"In our books, not on the statement: {len(report.missing_statement)}")
        for payment in report.missing_statement:
            out(f"  payment {payment.pk} {payment.reference} account {payment.account.number}")
        for receipt, theirs, ours in report.amount_differs:
            out(f"Amount differs for {receipt}: statement {theirs}, ours {ours}")
