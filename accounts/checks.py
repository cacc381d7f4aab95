"""Start-up checks: configurations we refuse to run with."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def jwt_settings_check() -> None:
    """Rotation without the blacklist app would leave every rotated refresh token usable."""
    jwt = getattr(settings, "SIMPLE_JWT", {})
    if jwt.get("ROTATE_REFRESH_TOKENS") and (
        "rest_framework_simplejwt.token_blacklist" not in settings.INSTALLED_APPS
        or not jwt.get("BLACKLIST_AFTER_ROTATION")
    ):
        raise ImproperlyConfigured(
            "ROTATE_REFRESH_TOKENS needs rest_framework_simplejwt.token_blacklist installed "
            "and BLACKLIST_AFTER_ROTATION on."
        )
