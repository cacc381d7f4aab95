from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("accounts.api.urls")),
    path("api/", include("billing.urls")),
    path("api/payments/", include("payments.api.staff")),
    path("payments/", include("payments.urls")),
    path("api/sms/", include("sms.api.urls")),
    path("sms/", include("sms.urls")),
    path("ussd/", include("ussd.urls")),
]
