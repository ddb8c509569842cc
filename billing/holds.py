"""Hold policy (billing-rules sections 8 and 10): a blocking finding holds the one invoice
that would bill its record, not the client's other invoices. Pure functions of the drafts
and the open findings; the issuing workflow (billing/issuing.py) applies them."""

from __future__ import annotations

from datetime import date

from billing.rating import DraftInvoice
from billing.rating.refs import refs_among


def with_candidate_contracts(findings: list[dict], contracts: list[dict]) -> list[dict]:
    """Tie each finding on a record no contract claims to the client's contracts that could
    bill it: those billing usage in arrears (hourly rates, hour tiers, incident prices or a
    patrol visit fee) active on the record's date, else any of them. `holds_for` reads it."""
    usage: dict[str, list[tuple[str, date, date]]] = {}
    for row in contracts:
        terms = row.get("terms") or {}
        if (terms.get("rates") or terms.get("hour_tiers") or terms.get("incidents")
                or terms.get("patrol_visit_fee") is not None):
            usage.setdefault(str(row["client_id"]), []).append(
                (str(row["contract_id"]), row["start_date"], row["end_date"]))
    out = []
    for finding in findings:
        if finding.get("contract_id") is not None:
            out.append(finding)
            continue
        mine = usage.get(str(finding.get("client_id")), [])
        day = finding.get("service_date")
        active = {cid for cid, start, end in mine if day is not None and start <= day <= end}
        out.append({**finding, "candidate_contracts": active or {cid for cid, _, _ in mine}})
    return out


def holds_for(draft: DraftInvoice, findings: list[dict]) -> list[dict]:
    """The blocking findings that hold this invoice.

    - A finding citing a record this invoice bills or would bill (its covered refs) holds it.
      A record no contract claims (contract_id null: missing_rate, ambiguous_contract,
      service_outside_contract) is covered by each arrears invoice of its client and period;
      it holds only those of them with a contract of the client that bills usage and is
      active on the record's service date (any usage contract when none is active).
    - A finding without evidence holds the client's arrears invoice of its site and period."""
    # Only the cited refs the invoice covers, found without listing all it covers in Python.
    covered = refs_among(draft.covered_refs, {ref for finding in findings for ref in finding["evidence"] or []})
    reasons = []
    for finding in findings:
        evidence = set(finding["evidence"] or [])
        if evidence & covered:
            if _would_bill(draft, finding):
                reasons.append(finding)
            continue
        if (
            draft.kind == "arrears"
            and finding["client_id"] == draft.client_id
            and finding["service_date"] is not None
            and draft.period_start <= finding["service_date"] <= draft.period_end
            and (draft.site_id is None or finding["site_id"] in (None, draft.site_id))
            and (finding["contract_id"] is None or finding["contract_id"] in draft.contract_ids)
            and not evidence
        ):
            reasons.append(finding)
    return reasons


def _would_bill(draft: DraftInvoice, finding: dict) -> bool:
    """Whether the invoice covering a finding's record is the one that would bill it."""
    if finding.get("contract_id") is not None or draft.kind != "arrears":
        return True
    candidates = finding.get("candidate_contracts")
    return not candidates or bool(candidates & set(draft.contract_ids))
