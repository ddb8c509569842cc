"""Collections: payments received, auto-pay and its retries, notices, reminders, dunning, KPIs."""
