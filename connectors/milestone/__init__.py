"""Milestone XProtect (API Gateway REST) connector."""
