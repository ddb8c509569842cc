"""`payments/*.csv` (interfaces.md section 2a) parsed by the generic inbox connector: good rows
become raw rows, bad ones are refused naming the file, the physical line and the field."""

from __future__ import annotations

from datetime import date

from connectors.inbox import parse_file

CSV = """\
payment_id,client_id,amount,received_on,method,invoice_number,currency,reference
P-1,C-1,1250.00,2026-10-20,check,INV-2026-000001,USD,check 10443
P-2,C-1,80,2026-10-21,wire,,,
P-3,C-2,-5.00,2026-10-21,check,,,
P-4,C-2,12.00,2026-13-01,check,,,
P-5,C-2,12.00,2026-10-22,bitcoin,,,
P-6,C-2,12.00,2026-10-22,cash,,usd,
P-7,,12.00,2026-10-22,cash,,,
P-8,C-2,0.00,2026-10-22,cash,,,
"""


def test_payments_are_parsed_and_bad_rows_refused_with_file_line_and_field(tmp_path):
    path = tmp_path / "payments" / "lockbox-2026-10.csv"
    path.parent.mkdir()
    path.write_text(CSV)
    result = parse_file(path, "payments")
    rows = result.rows.select("record_id", "client_id", "amount", "received_on", "method", "invoice_number",
                              "currency", "reference", "source_line").rows()
    assert rows == [("P-1", "C-1", "1250", date(2026, 10, 20), "check", "INV-2026-000001", "USD", "check 10443", 2),
                    ("P-2", "C-1", "80", date(2026, 10, 21), "wire", None, None, None, 3)]
    refused = [(q.line, q.record_id, q.field, q.reason) for q in result.quarantined]
    assert refused == [
        (4, "P-3", "amount", "amount '-5.00' is not a positive amount (digits and a '.', e.g. 1250.00)"),
        (5, "P-4", "received_on", "received_on '2026-13-01' is not a date (YYYY-MM-DD)"),
        (6, "P-5", "method", "method 'bitcoin' is not one of check, ach, wire, cash, card"),
        (7, "P-6", "currency", "currency 'usd' is not an active ISO 4217 code (e.g. USD)"),
        (8, "P-7", "client_id", "required field client_id is empty"),
        (9, "P-8", "amount", "amount '0.00' is not a positive amount (digits and a '.', e.g. 1250.00)"),
    ]
    assert all(q.file_path == str(path) and q.source == "payments" for q in result.quarantined)
    # 1250.00 and 1250 are one amount: the same payment delivered as either hashes the same
    again = tmp_path / "payments" / "again.csv"
    again.write_text(CSV.splitlines()[0] + "\nP-1,C-1,1250,2026-10-20,check,INV-2026-000001,USD,check 10443\n")
    assert parse_file(again, "payments").rows["content_hash"][0] == result.rows["content_hash"][0]
