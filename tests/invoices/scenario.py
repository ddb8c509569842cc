"""One client's week, written by hand, shared by the document, delivery, portal and
accounting tests. Harbor Logistics (C-1, consolidated) has a gate in New York (S-1, US-NY:
state 4 % and city 4.5 % on guarding) and a yard in New Jersey (S-2, US-NJ: 6.625 % on
incidents, patrols and monitoring):

  1 regular_hours     S-1  16.00 h x 30.00  = 480.00   SH-1, SH-2
  2 overtime_hours    S-1   2.00 h x 45.00  =  90.00   SH-2
  3 incident_fee      S-2   2 x 75.00       = 150.00   genetec alarm (vendor id 55), INC-2
  4 patrol_visit      S-2   1 x 24.00       =  24.00   T-1 (12 of 12 checkpoints)
  5 device_monitoring S-2   3 x 12.50       =  37.50   D-1, D-2 (cameras), D-3 (door)
  6 discount          S-2   10 % of line 5  =  -3.75   D-1, D-2, D-3
  subtotal 777.75; US-NY 4 % of 570.00 = 22.80 and 4.5 % = 25.65; US-NJ 6.625 % of 207.75
  = 13.763... -> 13.76; tax 62.21; total 839.96, issued 2026-10-12, due 2026-11-11.

Birch Warehousing (C-2, per_site, SMS) has INV-2026-000002: one site, 8 h x 25.00 = 200.00,
no tax; Cedar Offices (C-3, portal channel) INV-2026-000003: 100.00 monitoring and 3 devices
at 2.822581 (a monthly fee scaled to a week) = 8.47, total 108.47. Credit note
CN-2026-000001 credits INV-2026-000001 by 2 overtime hours: -90.00 and NY taxes -3.60 and
-4.05, total -97.65, applied to INV-2026-000001 (billing.adjustments says it adjusts overtime)."""

from __future__ import annotations

from datetime import date

from tests.invoices import warehouse as wh

NY, NJ = "America/New_York", "America/New_York"
TOTAL_1 = "839.96"


def build(conn, company: bool = True, with_credit_note: bool = True) -> dict[str, int]:
    wh.reset(conn, company=company)
    wh.add_client(conn, "C-1", "Harbor Logistics", email="ap@harbor.example", grouping="consolidated",
                  sites=(("S-1", "Harbor - Gate 2", NY, "US-NY"), ("S-2", "Harbor - Jersey Yard", NJ, "US-NJ")))
    wh.add_client(conn, "C-2", "Birch Warehousing", phone="+15555550101", channel="sms", grouping="per_site",
                  sites=(("S-9", "Birch - Dock 4", NY, "US-NY"),))
    wh.add_client(conn, "C-3", "Cedar Offices", email="ap@cedar.example", channel="portal",
                  sites=(("S-5", "Cedar - Tower", NY, "US-NY"),))
    sh1 = wh.add_shift(conn, "SH-1", "S-1", "C-1", ("G-1", "Ann Lee"), "2026-10-05T11:53:00Z", "2026-10-05T20:07:00Z")
    sh2 = wh.add_shift(conn, "SH-2", "S-1", "C-1", ("G-2", "Bo Park"), "2026-10-06T22:00:00Z", "2026-10-07T08:00:00Z")
    alarm = wh.add_incident(conn, "alarm-55", "S-2", "C-1", "alarm", "2026-10-07T06:02:00Z", "2026-10-07T06:10:00Z",
                            "2026-10-07T06:47:00Z", source="genetec", vendor_ref="55")
    inc2 = wh.add_incident(conn, "INC-2", "S-2", "C-1", "panic_button", "2026-10-09T01:00:00Z",
                           "2026-10-09T01:12:00Z", "2026-10-09T01:30:00Z")
    tour = wh.add_tour(conn, "T-1", "S-2", "C-1", "2026-10-08T01:00:00Z", "2026-10-08T01:40:00Z", 12, 12)
    devices = (wh.add_device(conn, "D-1", "S-2", "C-1", "camera", "2026-09-01"),
               wh.add_device(conn, "D-2", "S-2", "C-1", "camera", "2026-09-01"),
               wh.add_device(conn, "D-3", "S-2", "C-1", "door", "2026-09-15", source="lenel", vendor_ref="SN-99812"))
    shift9 = wh.add_shift(conn, "SH-9", "S-9", "C-2", ("G-5", "Cy Diaz"), "2026-10-06T12:00:00Z",
                          "2026-10-06T20:00:00Z")
    ids = {}
    ids["INV-2026-000001"] = wh.add_invoice(conn, "INV-2026-000001", "C-1", [
        wh.line("regular_hours", "Unarmed officer - regular", "16.00", "hour", "30.00", "480.00", "S-1", "US-NY",
                (sh1, sh2)),
        wh.line("overtime_hours", "Unarmed officer - overtime", "2.00", "hour", "45.00", "90.00", "S-1", "US-NY",
                (sh2,)),
        wh.line("incident_fee", "Incident response - alarm, panic button", "2", "incident", "75.00", "150.00",
                "S-2", "US-NJ", (alarm, inc2)),
        wh.line("patrol_visit", "Patrol visit", "1", "visit", "24.00", "24.00", "S-2", "US-NJ", (tour,)),
        wh.line("device_monitoring", "Device monitoring - camera and door", "3", "device", "12.50", "37.50", "S-2",
                "US-NJ", devices),
        wh.line("discount", "Discount 10% - Device monitoring", "1", "discount", "-3.75", "-3.75", "S-2", "US-NJ",
                devices),
        wh.tax("NY State sales tax", "US-NY", "0.04", "570.00", "22.80"),
        wh.tax("NYC sales tax", "US-NY", "0.045", "570.00", "25.65"),
        wh.tax("NJ sales tax", "US-NJ", "0.06625", "207.75", "13.76"),
    ], contracts=("K-1-G", "K-1-M"))
    ids["INV-2026-000002"] = wh.add_invoice(conn, "INV-2026-000002", "C-2", [
        wh.line("regular_hours", "Unarmed officer - regular", "8.00", "hour", "25.00", "200.00", "S-9", None,
                (shift9,)),
    ], site_id="S-9", due=date(2026, 10, 13), contracts=("K-2",))
    ids["INV-2026-000003"] = wh.add_invoice(conn, "INV-2026-000003", "C-3", [
        wh.line("monitoring", "Monitoring - alarm", "1", "cycle", "100.00", "100.00", "S-5", None,
                ("contracts:K-3",)),
        wh.line("device_monitoring", "Device monitoring - camera", "3", "device", "2.822581", "8.47", "S-5", None,
                ("contracts:K-3",), explanation="3 x 12.50 monthly fee, scaled to a 7-day cycle"),
    ], contracts=("K-3",), kind="advance")
    if with_credit_note:
        ids["CN-2026-000001"] = wh.add_invoice(conn, "CN-2026-000001", "C-1", [
            wh.line("adjustment", "Adjustment to INV-2026-000001: Unarmed officer - overtime", "-2.00", "hour",
                    "45.00", "-90.00", "S-1", "US-NY", ("invoices:INV-2026-000001", sh2)),
            wh.tax("NY State sales tax", "US-NY", "0.04", "-90.00", "-3.60"),
            wh.tax("NYC sales tax", "US-NY", "0.045", "-90.00", "-4.05"),
        ], issue=date(2026, 10, 19), due=date(2026, 10, 19), credit_for="INV-2026-000001", contracts=("K-1-G",))
        wh.pay(conn, ids["INV-2026-000001"], "C-1", "97.65", on=date(2026, 10, 19), entry_type="credit",
               reference="CN-2026-000001")
        wh.record_adjustment(conn, ids["INV-2026-000001"], ids["CN-2026-000001"], 1, "overtime_hours")
    return ids
