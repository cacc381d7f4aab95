"""python manage.py ussd_invite 100000011 [--operator SLUG]

Issue an invitation code for an account and print it once, for the letter; older codes of the
account stop working. The code is not stored in clear anywhere and cannot be shown again.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.errors import ApplicationError
from billing.models import Operator
from billing.services.accounts import service_account_find
from billing.services.invitations import account_invitation_issue


class Command(BaseCommand):
    help = "Issue a one-time code with which a phone links itself to an account by USSD."

    def add_arguments(self, parser):
        parser.add_argument("account_number")
        parser.add_argument("--operator", help="Operator slug (when several operators exist).")

    def handle(self, *args, account_number: str, operator: str | None, **options):
        found = None
        if operator:
            found = Operator.objects.filter(slug=operator).first()
            if found is None:
                raise CommandError(f"No operator {operator!r}.")
        account = service_account_find(account_number, operator=found)
        if account is None:
            raise CommandError(f"No account {account_number!r} (check the digits).")
        try:
            issued = account_invitation_issue(account=account)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        expires = timezone.localtime(issued.invitation.expires_at)
        self.stdout.write(
            f"Invitation code for account {account.number} ({account.holder_name}): "
            f"{issued.code}\nValid until {expires:%Y-%m-%d %H:%M}; shown only now. "
            f"The customer dials {account.operator.ussd_code or 'the USSD code'}, "
            "chooses 'Link my account', and types the account number and this code."
        )
