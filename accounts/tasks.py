from celery import shared_task

from accounts.services.tokens import expired_tokens_delete


@shared_task
def expired_tokens_flush() -> dict[str, int]:
    """Nightly (CELERY_BEAT_SCHEDULE): drop expired refresh tokens and worn-out chains.

    One idempotent DELETE per table, so an overlapping run does no harm and needs no lock.
    """
    return expired_tokens_delete()
