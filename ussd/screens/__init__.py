"""The screens of the USSD menus; importing this package registers them all."""

from ussd.screens import account, home, link, pay, reading

__all__ = ["account", "home", "link", "pay", "reading"]
