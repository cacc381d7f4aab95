"""The address a request came from, trusting X-Forwarded-For only as far as NUM_PROXIES says."""

from django.conf import settings


def client_ip(request) -> str | None:
    proxies = settings.NUM_PROXIES
    if proxies > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR") or None
