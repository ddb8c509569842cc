"""Avigilon Control Center (Web Endpoint API) connector."""
