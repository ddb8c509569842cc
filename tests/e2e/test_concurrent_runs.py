"""Two `vigil run` processes for one period at once (tests/e2e/inbox_fixture.py, VIGIL_PAYMENTS=local):
the second waits for the first (the run lock), both succeed, every invoice exists once with
consecutive unique numbers, and auto-pay charges once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.inbox_fixture import write_inbox

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

VIGIL = str(Path(sys.executable).parent / "vigil")


@pytest.fixture(scope="module")
def both(warehouse, tmp_path_factory):
    inbox = write_inbox(tmp_path_factory.mktemp("inbox"))
    env = {**os.environ, "VIGIL_PAYMENTS": "local"}
    command = [VIGIL, "run", "--inbox", str(inbox), "--through", "2026-10-19", "--json"]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outcomes = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=900)
        outcomes.append((process.returncode, stdout, stderr))
    return outcomes


def test_both_runs_succeed_and_one_waited(both):
    for code, stdout, stderr in both:
        assert code == 0, f"{stdout[-2000:]}\n{stderr[-3000:]}"
    waited = [stderr for _, _, stderr in both if "waiting for another run" in stderr]
    assert len(waited) == 1


def test_each_invoice_once_with_consecutive_numbers(both, conn):
    with conn.cursor() as cur:
        cur.execute("select invoice_key, count(*) from billing.invoices group by 1 having count(*) > 1")
        assert cur.fetchall() == []
        cur.execute("select invoice_number from billing.invoices where invoice_number is not null order by 1")
        numbers = [number for (number,) in cur.fetchall()]
    conn.commit()
    assert numbers == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]


def test_auto_pay_charged_once(both, conn):
    with conn.cursor() as cur:
        cur.execute("select status, amount from billing.payment_attempts")
        assert [(status, str(amount)) for status, amount in cur.fetchall()] == [("succeeded", "212.50")]
    conn.commit()
    summaries = [json.loads(stdout.strip().splitlines()[-1]) for _, stdout, _ in both]
    assert summaries[0] == summaries[1]
    assert summaries[0]["payments"] == {"succeeded": 1, "failed": 0, "amount": "212.50", "mode": "local"}
