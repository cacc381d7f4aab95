"""The project's URLs plus the invitation endpoint, until billing/urls.py includes it."""

from django.urls import include, path

from billing.api import invitations
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("api/", include(invitations.urlpatterns))]
