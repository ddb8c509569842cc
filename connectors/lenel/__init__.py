"""Lenel OnGuard (OpenAccess REST): logged events and reader/panel inventory.

See docs/connectors/lenel.md for the field mapping, the event code table and the
assumptions made where OpenAccess documentation is silent."""
