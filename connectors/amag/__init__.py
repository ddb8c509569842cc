"""AMAG Symmetry: ActivityDataView transaction exports and the device export.

See docs/connectors/amag.md for the field mapping, the site-local time convention and
the assumptions made where AMAG documentation is silent."""
