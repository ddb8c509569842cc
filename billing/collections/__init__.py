"""Collections (collections.md sections 0-5): what happens to an invoice after it is issued.

Every rule is a function of the business day it acts on (`day`), and days.py runs a range
of days one after the other in a fixed order of steps, so a range acts exactly as if each
day had run on its own, and running it again changes nothing:

| step | module | does |
| --- | --- | --- |
| 1 | received.py | payments received outside the provider (inbox `payments/*.csv`) |
| 2 | credits.py | client credits applied to open invoices |
| 3 | autopay.py | open attempts reconciled; charges on the due date, retries, new methods |
| 4 | notices.py | receipts and failure notices |
| 5 | reminders.py | reminders D-3, D, D+5, D+10 |
| 6 | dunning.py | delinquent, in collections and the agency hand-off |

The rules themselves (offsets, retry schedule, soft and hard declines) are in schedule.py
and declines.py, free of any database."""
