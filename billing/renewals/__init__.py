"""Renewals (collections.md section 7, issue 11): offers 90 days before a contract ends,
reminders, sales alerts or auto-renew notices, decisions in the portal, and the new contract
versions billing follows. No Dagster here (orchestration/defs/renewals/ runs it daily).

| module | what it holds |
| --- | --- |
| `timeline.py` | the date rules: step days, what a day owes a contract, contract lengths |
| `options.py` | the options `same`, `upgrade`, `longer_term` and their prices, from the terms |
| `summary.py` | what a contract was billed (the offer's summary) and is worth per month |
| `messages.py` | the six renewal messages and the signed offer link |
| `decisions.py` | accept or decline (portal, demo) and the renewal it creates |
| `daily.py` | the run of a range of business days, each in order |
| `kpis.py` | renewal rate, offers pending, revenue up for renewal, revenue lost |
| `store.py` | billing.renewals and the renewal documents in raw.contract_documents |
"""
