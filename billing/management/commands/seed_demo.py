"""Demo data for `make run`: staff of each role and three customers. Safe to run again."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Role, User

DEMO_PASSWORD = "malipo-demo-2026"  # noqa: S105 - printed on purpose, demo data only

STAFF = [
    ("+254700000001", "Amina Admin", Role.ADMIN),
    ("+254700000002", "Moses Manager", Role.MANAGER),
    ("+254700000003", "Achieng Agent", Role.AGENT),
    ("+254700000004", "Tom Technician", Role.TECHNICIAN),
]
CUSTOMERS = [
    ("+254712000001", "Wanjiru Paid-Up", "en"),
    ("+254712000002", "Otieno Part-Paid", "sw"),
    ("+254712000003", "Fatou Overdue", "fr"),
]


class Command(BaseCommand):
    help = "Create (or refresh) the demo operator's staff and customers."

    @transaction.atomic
    def handle(self, *args, **options):
        for phone, name, role in STAFF:
            user, created = User.objects.get_or_create(
                phone=phone,
                defaults={
                    "name": name,
                    "role": role,
                    "is_active": True,
                    "is_superuser": role == Role.ADMIN,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
        for phone, name, language in CUSTOMERS:
            User.objects.get_or_create(
                phone=phone,
                defaults={"name": name, "language": language, "is_active": True},
            )
        self._print_welcome()

    def _print_welcome(self) -> None:
        write = self.stdout.write
        write(self.style.SUCCESS("Demo data ready."))
        write("  Service:   http://127.0.0.1:8000/healthz")
        write("  API docs:  http://127.0.0.1:8000/api/docs/")
        write("  Admin:     http://127.0.0.1:8000/admin/")
        write(f"  Staff logins (password {DEMO_PASSWORD}):")
        for phone, name, role in STAFF:
            write(f"    {phone}  {role.label:<13} {name}")
        write("  Customers:")
        for phone, name, _language in CUSTOMERS:
            write(f"    {phone}  {name}")
        write("  SMS sent by the service appear in var/sms-console.log.")
