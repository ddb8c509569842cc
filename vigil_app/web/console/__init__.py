"""The finance console: sign-in, the findings queue, invoices, payments and dunning, renewals, KPIs."""
