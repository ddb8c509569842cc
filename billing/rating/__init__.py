"""The pure rating engine: marts in, draft invoices out. No orchestration, no ingest, no I/O."""

from billing.rating.invoices import draft_invoices
from billing.rating.model import DraftInvoice, DraftLine, RatingInputs

__all__ = ["DraftInvoice", "DraftLine", "RatingInputs", "draft_invoices"]
