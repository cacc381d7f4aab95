"""Outgoing SMS. The console gateway writes messages to a file instead of a phone network."""

from config.settings.env import BASE_DIR, env

SMS_GATEWAY = env("SMS_GATEWAY", default="sms.gateways.console.ConsoleGateway")
# Where the console gateway writes each message (the "handset" of the embedded default).
SMS_CONSOLE_FILE = env("SMS_CONSOLE_FILE", default=str(BASE_DIR / "var" / "sms-console.log"))
# Key that seals message bodies holding a secret (activation codes) while they wait in the
# outbox; derived from SECRET_KEY when empty.
SMS_OUTBOX_SEAL_KEY = env("SMS_OUTBOX_SEAL_KEY", default="")
