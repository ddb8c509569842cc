"""Links from the console to the data team's view, the Dagster UI (`vigil ui`, or a
deployment's webserver) at VIGIL_DAGSTER_URL (default http://127.0.0.1:3000): each invoice
to the billing/invoices asset and the run that issued it, each finding to marts/fct_findings
and the run that last built it.

Which run issued an invoice is read from the asset's materializations: each one lists the
numbers it issued or released in its `numbers` metadata. Read once and refreshed only when
a newer materialization exists; without a reachable instance the links name the asset only."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

DEFAULT_URL = "http://127.0.0.1:3000"
INVOICES = ("billing", "invoices")
FINDINGS = ("marts", "fct_findings")
KPIS = ("kpis", "monthly")


def base_url() -> str:
    return (os.environ.get("VIGIL_DAGSTER_URL") or DEFAULT_URL).rstrip("/")


def asset_url(path: tuple[str, ...], partition: str | None = None) -> str:
    url = f"{base_url()}/assets/{'/'.join(path)}"
    return f"{url}?view=partitions&partition={partition}" if partition else url


def run_url(run_id: str) -> str:
    return f"{base_url()}/runs/{run_id}"


@dataclass
class _RunIndex:
    latest_storage_id: int = -1
    issued_by: dict[str, str] = field(default_factory=dict)
    latest_run: dict[tuple[str, ...], str] = field(default_factory=dict)


_index = _RunIndex()
_lock = threading.Lock()


def _instance():
    from dagster import DagsterInstance

    from vigil import services

    if not os.environ.get("DAGSTER_HOME"):
        services.prepare_instance()
    return DagsterInstance.get()


def _refresh(index: _RunIndex) -> _RunIndex:
    """`index` with the materializations newer than the last one it read."""
    import dagster as dg

    key = dg.AssetKey(list(INVOICES))
    with _instance() as instance:
        newest = instance.fetch_materializations(key, limit=1).records
        newest_id = newest[0].storage_id if newest else -1
        if newest_id == index.latest_storage_id:
            return index
        if newest_id < index.latest_storage_id:  # another instance (a new database): start over
            index = _RunIndex()
        issued_by = dict(index.issued_by)
        records_filter = dg.AssetRecordsFilter(asset_key=key, after_storage_id=index.latest_storage_id)
        cursor = None
        while True:
            page = instance.fetch_materializations(records_filter, limit=500, cursor=cursor, ascending=True)
            for record in page.records:
                numbers = record.asset_materialization.metadata.get("numbers") if record.asset_materialization else None
                text = str(getattr(numbers, "value", numbers) or "")
                for number in (part.strip() for part in text.split(",")):
                    if number and number != "none":
                        issued_by.setdefault(number, record.run_id)
            if not page.has_more:
                break
            cursor = page.cursor
        latest_run = {}
        for path in (INVOICES, FINDINGS, KPIS):
            event = instance.get_latest_materialization_event(dg.AssetKey(list(path)))
            if event is not None:
                latest_run[path] = event.run_id
    return _RunIndex(newest_id, issued_by, latest_run)


@dataclass(frozen=True)
class Links:
    """An asset's URL and a run's (None when unknown)."""

    asset: str
    run: str | None


class DagsterLinks:
    """The links of one page, from one look at the instance."""

    def __init__(self, index: _RunIndex):
        self.index = index
        self.base = base_url()

    def _links(self, path: tuple[str, ...], run_id: str | None, partition: str | None = None) -> Links:
        return Links(asset_url(path, partition), run_url(run_id) if run_id else None)

    def invoice(self, number: str | None, issue_date=None) -> Links:
        """The run that issued it; for a held invoice, the run that last held it."""
        run_id = self.index.issued_by.get(number) if number else self.index.latest_run.get(INVOICES)
        return self._links(INVOICES, run_id, issue_date.isoformat() if issue_date is not None else None)

    def findings(self) -> Links:
        return self._links(FINDINGS, self.index.latest_run.get(FINDINGS))

    def kpis(self) -> Links:
        return self._links(KPIS, self.index.latest_run.get(KPIS))


def current() -> DagsterLinks:
    global _index
    with _lock:
        try:
            _index = _refresh(_index)
        except Exception:  # noqa: BLE001 - no instance reachable: links to the assets only
            pass
        return DagsterLinks(_index)
