from accounts.api import activation, audit, auth, users

urlpatterns = [
    *activation.urlpatterns,
    *auth.urlpatterns,
    *users.urlpatterns,
    *audit.urlpatterns,
]
