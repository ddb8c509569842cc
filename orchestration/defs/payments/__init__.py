"""Payments: the polling sensor that reconciles attempts the provider's webhook did not settle."""
