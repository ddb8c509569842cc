"""Persistence of renewals: what the timeline reads from the marts, the renewal rows
(billing.renewals, vigil/migrations/0040_renewals.sql) and the renewal documents.

A renewal becomes a contract the way every contract does: as a document in
raw.contract_documents, here under its own `source` `renewals` (one document per client
holding every renewed contract of that client, rebuilt from billing.renewals at each
decision), so dbt merges it with the contract file and the CRM whatever was ingested last
(stg_inbox__contracts). It is the one raw table billing writes, and only this source."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import psycopg2.extras

from billing.renewals.timeline import State

SOURCE = "renewals"
SOURCE_FILE = "billing.renewals"
STATE_COLUMNS = ("end_date", "auto_renew", "offered_on", "reminded_on", "sales_alerted_on", "auto_notice_on",
                 "decision", "decided_on", "decision_sent_on")


def rows(conn, sql: str, params=()) -> list[dict]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, params)
        return [dict(row) for row in cur.fetchall()]


def contracts(conn) -> list[dict]:
    """Every contract in force (marts.dim_contracts) with what messages need of its client."""
    return rows(conn, """select k.contract_id, k.client_id, k.start_date, k.end_date, k.billing_cycle, k.terms,
                                coalesce((k.terms ->> 'auto_renew')::boolean, false) as auto_renew,
                                c.client_name, c.email, c.phone, c.preferred_channel,
                                coalesce(c.currency, 'USD') as currency
                         from marts.dim_contracts k join marts.dim_clients c using (client_id)
                         order by k.contract_id""")


def company(conn) -> dict:
    found = rows(conn, "select company_name, email, sales_email from marts.dim_company limit 1")
    return found[0] if found else {"company_name": "Vigil", "email": None, "sales_email": None}


def clients(conn) -> dict[str, dict]:
    return {row["client_id"]: row for row in rows(
        conn, """select client_id, client_name, email, phone, preferred_channel, coalesce(currency, 'USD') as currency
                 from marts.dim_clients""")}


def renewals(conn, for_update: bool = False, contract_id: str | None = None) -> dict[str, dict]:
    sql = "select * from billing.renewals"
    params: tuple = ()
    if contract_id is not None:
        sql += " where contract_id = %s"
        params = (contract_id,)
    sql += " order by contract_id" + (" for update" if for_update else "")
    return {row["contract_id"]: row for row in rows(conn, sql, params)}


def state_of(row: dict) -> State:
    return State(**{column: row[column] for column in STATE_COLUMNS})


def lineage(conn, contract_id: str) -> tuple[str, int]:
    """The chain a contract's renewal continues: (root contract, number of the next renewal).
    K-1 -> (K-1, 1); K-1-R1, itself a renewal of K-1 -> (K-1, 2)."""
    found = rows(conn, "select root_contract_id, generation from billing.renewals where new_contract_id = %s",
                 (contract_id,))
    if found:
        return found[0]["root_contract_id"], found[0]["generation"] + 1
    return contract_id, 1


def insert_offer(cur, *, contract: dict, day: date, root: str, generation: int, offer: dict,
                 monthly_value) -> bool:
    cur.execute(
        """insert into billing.renewals (contract_id, client_id, currency, end_date, auto_renew, offered_on,
               root_contract_id, generation, offer, monthly_value)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict (contract_id) do nothing""",
        (contract["contract_id"], contract["client_id"], contract["currency"], contract["end_date"],
         contract["auto_renew"], day, root, generation, psycopg2.extras.Json(offer), monthly_value),
    )
    return cur.rowcount == 1


def mark(cur, contract_id: str, column: str, day: date) -> None:
    """Record a step's business day once (a step already dated keeps its day)."""
    assert column in ("reminded_on", "sales_alerted_on", "auto_notice_on", "decision_sent_on")
    cur.execute(f"""update billing.renewals set {column} = %s, updated_at = now()
                    where contract_id = %s and {column} is null""", (day, contract_id))


def follow_contract(cur, contract_id: str, end_date: date, auto_renew: bool) -> None:
    """An undecided renewal follows its contract's end date and auto-renew flag (the
    contract file may change them before the decision)."""
    cur.execute("""update billing.renewals set end_date = %s, auto_renew = %s, updated_at = now()
                   where contract_id = %s and decision is null and (end_date, auto_renew) <> (%s, %s)""",
                (end_date, auto_renew, contract_id, end_date, auto_renew))


def record_decision(cur, contract_id: str, *, decision: str, day: date, decided_by: str, option: str | None = None,
                    new_contract_id: str | None = None, new_terms: dict | None = None) -> None:
    cur.execute(
        """update billing.renewals set decision = %s, decided_on = %s, decided_by = %s, decided_at = now(),
               option = %s, new_contract_id = %s, new_terms = %s, updated_at = now()
           where contract_id = %s and decision is null""",
        (decision, day, decided_by, option, new_contract_id,
         psycopg2.extras.Json(new_terms) if new_terms is not None else None, contract_id),
    )
    if cur.rowcount != 1:
        raise RuntimeError(f"renewal of {contract_id} was decided meanwhile")


def canonical(document: dict) -> str:
    """The document's text as stored and hashed: the same rule as the contract connectors
    (sorted keys, no spaces), so equal documents hash equal."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def write_renewal_document(cur, client_id: str) -> None:
    """The client's renewal document: every contract version its renewals created."""
    cur.execute("""select new_terms from billing.renewals
                   where client_id = %s and new_terms is not null order by new_contract_id""", (client_id,))
    document = {"client": {"id": client_id}, "sites": [], "contracts": [row[0] for row in cur.fetchall()]}
    text = canonical(document)
    cur.execute(
        """insert into raw.contract_documents (client_id, source, source_file, content_hash, document)
           values (%s, %s, %s, %s, %s::jsonb) on conflict (client_id, content_hash) do nothing""",
        (client_id, SOURCE, SOURCE_FILE, hashlib.sha256(text.encode()).hexdigest(), text),
    )
