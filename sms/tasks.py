from celery import shared_task

from sms.services import message_deliver


@shared_task(acks_late=True)
def message_send(message_id: int) -> None:
    message_deliver(message_id=message_id)
