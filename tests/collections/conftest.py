"""Fixtures of the collections tests: a module's own warehouse, localstripe (emptied for
each test: a fresh test account) behind a proxy that can lose requests and answers, and
a Book of clients, invoices and payments received (tests/collections/book.py)."""

from __future__ import annotations

import pytest

from billing.payments import StripeGateway
from tests.collections.book import Book
from tests.collections.stripe_proxy import StripeProxy


@pytest.fixture(scope="module")
def localstripe(warehouse):
    from vigil_app.demo.localstripe import ensure_localstripe

    return ensure_localstripe()


@pytest.fixture(scope="module")
def proxy(localstripe):
    with StripeProxy(localstripe) as running:
        yield running


@pytest.fixture
def book(conn, proxy, localstripe, tmp_path):
    from vigil_app.demo.localstripe import forget_everything

    forget_everything(localstripe)
    proxy.seen.clear()
    proxy.ignore_idempotency_keys = False
    ledger = Book(conn, tmp_path / "outbox", StripeGateway(api_key="sk_test_vigil", api_base=proxy.url))
    ledger.reset()
    return ledger
