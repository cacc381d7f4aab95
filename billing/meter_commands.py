"""The meter-command hook: how a suspension or a reconnection reaches a smart or prepaid meter.

Set `METER_COMMAND_HOOK` to the dotted path of a class implementing `MeterCommandHook`
(`METER_COMMAND_HOOK_OPTIONS`, a dict, is passed to its constructor as keyword arguments).
The default, `NoOpMeterCommandHook`, acts on nothing: every disconnection and reconnection is
then done by a technician through its work order.

The hook is called from a Celery task after the suspension or reconnection has committed
(billing.services.service_control.work_order_dispatch), once per work order, with a plain
`MeterCommand` (never a model). The contract:

- `send(command)` asks the meter (or the vendor's head-end: a PAYG solar platform, an AMI
  system) to cut or restore supply. The same `command.reference` may arrive more than once (a
  retried task): acting twice on one reference must be harmless.
- Return `MeterCommandResult(done=True)` when the meter has acted: the work order is then
  completed without a visit. `done=False` (no remote control for this meter, or the vendor
  only queued it) leaves the work order open for a technician.
- Raise `MeterCommandUnavailable` for a transient failure (timeout, 5xx): the task retries
  with backoff and, when it gives up, the work order simply stays open. Any other exception
  is a bug and is raised.
"""

import json
from dataclasses import dataclass
from functools import cache
from typing import Literal, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_HOOK = "billing.meter_commands.NoOpMeterCommandHook"


@dataclass(frozen=True)
class MeterCommand:
    action: Literal["disconnect", "reconnect"]
    reference: str  # "work-order:<id>": stable across retries
    operator: str  # the operator's slug
    account_number: str
    utility: str  # water, electricity, solar
    meter_serials: tuple[str, ...]  # meters installed on the account now


@dataclass(frozen=True)
class MeterCommandResult:
    done: bool
    detail: str = ""  # for the work order's notes; never a secret


class MeterCommandUnavailable(Exception):
    """The meter or its head-end could not be reached now: try again later."""


class MeterCommandHook(Protocol):
    def send(self, command: MeterCommand) -> MeterCommandResult: ...


class NoOpMeterCommandHook:
    """No remote control: technicians disconnect and reconnect by hand."""

    def __init__(self, **options) -> None:
        self.options = options

    def send(self, command: MeterCommand) -> MeterCommandResult:
        return MeterCommandResult(done=False, detail="No remote meter control: visit needed.")


@cache
def _hook(path: str, options_json: str) -> MeterCommandHook:
    return import_string(path)(**json.loads(options_json))


def meter_command_hook_get() -> MeterCommandHook:
    """The configured hook, built once per configuration."""
    path = getattr(settings, "METER_COMMAND_HOOK", "") or DEFAULT_HOOK
    options = getattr(settings, "METER_COMMAND_HOOK_OPTIONS", {}) or {}
    return _hook(path, json.dumps(options, sort_keys=True))
