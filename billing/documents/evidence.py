"""The evidence appendix: for each billed line, the source records that prove it, read from
the marts by the `source_refs` the line cites: guard shifts with their check-in and
check-out, incidents with their response times, patrol tours with the checkpoints scanned,
devices by type. Times are shown in the site's own timezone, as the guard saw the clock."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg2.extras

from billing.documents.model import DocumentLine, Evidence, EvidenceRecord

# The fact each kind of record is read from, with the columns the appendix shows.
_FACTS = {
    "shift": ("marts.fct_guard_shifts", "shift_id as record_id, guard_id, guard_name, service_type, check_in_at, "
              "check_out_at"),
    "incident": ("marts.fct_incident_responses", "incident_id as record_id, classification, opened_at, "
                 "response_started_at, response_ended_at, responder_guard_id"),
    "tour": ("marts.fct_patrol_tours", "tour_id as record_id, guard_id, started_at, completed_at, "
             "checkpoints_required, checkpoints_scanned"),
    "device": ("marts.fct_devices", "device_id as record_id, device_type, active_from, active_to"),
}


def _local(instant: datetime | None, zone: str) -> datetime | None:
    return instant.astimezone(ZoneInfo(zone)) if instant is not None else None


def _clock(instant: datetime | None, zone: str, with_date: bool = True) -> str:
    local = _local(instant, zone)
    if local is None:
        return "none"
    return local.strftime("%Y-%m-%d %H:%M %Z" if with_date else "%H:%M %Z")


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60)


def _same_day(first: datetime | None, second: datetime | None, zone: str) -> bool:
    one, other = _local(first, zone), _local(second, zone)
    return one is not None and other is not None and one.date() == other.date()


def _shift(row: dict, zone: str) -> tuple[str, str]:
    guard = f"{row['guard_id']} {row['guard_name']}".strip() if row.get("guard_name") else row["guard_id"]
    hours = _minutes(row["check_in_at"], row["check_out_at"])
    out = _clock(row["check_out_at"], zone, not _same_day(row["check_in_at"], row["check_out_at"], zone))
    when = f"in {_clock(row['check_in_at'], zone)}, out {out}"
    if hours is not None:
        when += f" ({Decimal(hours) / 60:.2f} h)"
    return f"Guard {guard}, {row['service_type'].replace('_', ' ')}", when


def _incident(row: dict, zone: str) -> tuple[str, str]:
    response = _minutes(row.get("opened_at"), row["response_started_at"])
    on_scene = _minutes(row["response_started_at"], row["response_ended_at"])
    what = f"{row['classification'].replace('_', ' ').capitalize()}"
    if row.get("responder_guard_id"):
        what += f", responder {row['responder_guard_id']}"
    parts = []
    if row.get("opened_at") is not None:
        parts.append(f"raised {_clock(row['opened_at'], zone)}")
    parts.append(f"response {_clock(row['response_started_at'], zone, not parts)}"
                 + (f" ({response} min after)" if response is not None else ""))
    parts.append(f"cleared {_clock(row['response_ended_at'], zone, False)}"
                 + (f" ({on_scene} min on scene)" if on_scene is not None else ""))
    return what, ", ".join(parts)


def _tour(row: dict, zone: str) -> tuple[str, str]:
    what = (f"Patrol by {row['guard_id']}: {row['checkpoints_scanned']} of {row['checkpoints_required']} "
            f"checkpoints scanned")
    end = row.get("completed_at")
    when = f"{_clock(row['started_at'], zone)} to {_clock(end, zone, False) if end else 'not completed'}"
    return what, when


def _day(value) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, date) else "open"


def _device(row: dict, zone: str) -> tuple[str, str]:
    until = f" to {_day(row['active_to'])}" if row.get("active_to") else ", still active"
    return row["device_type"].replace("_", " ").capitalize(), f"active from {_day(row['active_from'])}{until}"


_DESCRIBE = {"shift": _shift, "incident": _incident, "tour": _tour, "device": _device}


def _records(conn, refs: list[str], site_zones: dict[str, str]) -> dict[str, EvidenceRecord]:
    found: dict[str, EvidenceRecord] = {}
    if not refs:
        return found
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        for kind, (table, columns) in _FACTS.items():
            cur.execute(f"select source_ref, site_id, vendor_ref, {columns} from {table} where source_ref = any(%s)",
                        (refs,))
            for row in cur.fetchall():
                zone = site_zones.get(row["site_id"]) or "UTC"
                what, when = _DESCRIBE[kind](row, zone)
                vendor = row["vendor_ref"] if row["vendor_ref"] not in (None, row["record_id"]) else None
                found[row["source_ref"]] = EvidenceRecord(row["source_ref"], kind, vendor, what, when)
        contract_ids = [ref.split(":", 1)[1] for ref in refs if ref.startswith("contracts:")]
        if contract_ids:
            cur.execute("""select contract_id, billing_cycle, start_date, end_date from marts.dim_contracts
                           where contract_id = any(%s)""", (contract_ids,))
            for row in cur.fetchall():
                ref = f"contracts:{row['contract_id']}"
                found[ref] = EvidenceRecord(ref, "contract", None, f"Contract {row['contract_id']}, "
                                            f"{row['billing_cycle']} billing",
                                            f"in force {row['start_date']} to {row['end_date']}")
    for ref in refs:
        if ref in found:
            continue
        if ref.startswith("invoices:"):
            found[ref] = EvidenceRecord(ref, "invoice", None, f"Re-rated from invoice {ref.split(':', 1)[1]}",
                                        "see that invoice's evidence")
        else:
            found[ref] = EvidenceRecord(ref, "unknown", None, "Source record (no longer in the current data)", "")
    return found


def _summary(records: list[EvidenceRecord]) -> str:
    kinds = Counter(record.kind for record in records)
    parts = []
    nouns = {"shift": "guard shift", "incident": "incident", "tour": "patrol tour", "contract": "contract",
             "invoice": "earlier invoice", "unknown": "other record"}
    for kind, noun in nouns.items():
        if kinds[kind]:
            parts.append(f"{kinds[kind]} {noun}{'s' if kinds[kind] > 1 else ''}")
    if kinds["device"]:
        types = Counter(record.what.lower() for record in records if record.kind == "device")
        parts.append(f"{kinds['device']} device{'s' if kinds['device'] > 1 else ''} ("
                     + ", ".join(f"{count} {name}" for name, count in sorted(types.items())) + ")")
    return ", ".join(parts)


def build_evidence(conn, lines: list[DocumentLine], site_zones: dict[str, str]) -> tuple[list[DocumentLine],
                                                                                         list[Evidence]]:
    """Every line with records gets an appendix entry E1, E2, ... in line order; the lines
    come back carrying their entry's id."""
    refs = sorted({ref for line in lines for ref in line.source_refs})
    records = _records(conn, refs, site_zones)
    numbered, entries = [], []
    for line in lines:
        if not line.source_refs:
            numbered.append(line)
            continue
        evidence_id = f"E{len(entries) + 1}"
        line = replace(line, evidence_id=evidence_id)
        cited = [records[ref] for ref in line.source_refs]
        same_as = entries[-1].evidence_id if entries and entries[-1].line.source_refs == line.source_refs else None
        entries.append(Evidence(evidence_id, line, _summary(cited), tuple(cited), same_as))
        numbered.append(line)
    return numbered, entries
