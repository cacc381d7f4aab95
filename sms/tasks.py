"""Celery entry points of the outbox: take an id, call one service."""

from celery import shared_task

from sms import dispatch, pipeline


# acks_late: if the worker dies mid-task, the broker re-delivers the task (after its visibility
# timeout; Celery acks a task whose child process alone was killed). Either way the dispatcher
# hands the message over again once its claim's lease runs out, and the claim and the "sent"
# status make any second run a no-op (sms.pipeline).
@shared_task(acks_late=True)
def message_send(message_id: int) -> None:
    pipeline.message_deliver(message_id=message_id)


@shared_task(acks_late=True)
def messages_send(message_ids: list[int]) -> None:
    pipeline.messages_deliver(message_ids=message_ids)


@shared_task
def outbox_dispatch() -> dict:
    return dispatch.outbox_dispatch()
