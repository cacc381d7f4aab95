"""The billing API, mounted under /api/ by config/urls.py."""

from billing.api import (
    accounts,
    dunning,
    invitations,
    invoices,
    meters,
    readings,
    statements,
    tariffs,
)

urlpatterns = [
    *accounts.urlpatterns,
    *statements.urlpatterns,
    *meters.urlpatterns,
    *readings.urlpatterns,
    *tariffs.urlpatterns,
    *invoices.urlpatterns,
    *dunning.urlpatterns,
    *invitations.urlpatterns,
]
