"""The client portal, reached only through signed links (billing/links.py)."""
