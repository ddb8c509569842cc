"""Genetec Security Center (Web SDK) connector."""
