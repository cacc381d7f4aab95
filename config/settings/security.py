"""Secrets, hosts and transport security. With DEBUG off, a missing secret stops the start."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.env import DEBUG, env

_DEV_SECRET_KEY = "malipo-dev-only-insecure-secret-key-do-not-use-in-production-000"  # noqa: S105
_DEV_PEPPER = "1:malipo-dev-only-pepper"

SECRET_KEY = env("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Keyed hashes of SMS codes: "version:secret" pairs, comma separated. New codes use the highest
# version; older versions stay listed until the codes hashed with them have expired.
SMS_CODE_PEPPERS = env.list("SMS_CODE_PEPPERS", default=[_DEV_PEPPER] if DEBUG else [])

if not DEBUG:
    if not SECRET_KEY or SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be set to a random value of 50+ characters.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names this service answers.")
    if not SMS_CODE_PEPPERS or _DEV_PEPPER in SMS_CODE_PEPPERS:
        raise ImproperlyConfigured("SMS_CODE_PEPPERS must hold at least one 'version:secret' pair.")

    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
