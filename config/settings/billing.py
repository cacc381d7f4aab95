"""Billing and service control: the hook that sends commands to smart and prepaid meters."""

from config.settings.env import env

# Dotted path of a billing.meter_commands.MeterCommandHook class (empty: the no-op hook, every
# cut-off and restore is done by a field visit), and the keyword arguments of its constructor.
METER_COMMAND_HOOK = env("METER_COMMAND_HOOK", default="")
METER_COMMAND_HOOK_OPTIONS = env.json("METER_COMMAND_HOOK_OPTIONS", default={})
