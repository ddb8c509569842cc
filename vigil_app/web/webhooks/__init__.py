"""Provider webhooks: signature checked, de-duplicated by event id, state only moves forward."""
