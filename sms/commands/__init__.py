"""Inbound SMS commands (an interface layer: it calls billing and payments services)."""
