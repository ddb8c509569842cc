"""The demo's inbox (vigil_app/demo/inbox.py): one world through every feed, each vendor folder with
records and planted refusals, and each site's guarding in exactly one feed."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.inbox import parse_inbox
from vigil_app.demo.inbox import VENDOR_FOLDERS, build_demo_inbox, tracktik_sites


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-inbox")
    manifest = build_demo_inbox(root)
    accepted: Counter = Counter()
    refused: Counter = Counter()
    sites: dict[str, set[str]] = {}
    for r in parse_inbox(root):
        accepted[r.source] += r.rows.height
        refused[r.source] += len(r.quarantined)
        if r.table == "timesheets" and r.rows.height:
            sites.setdefault(r.source, set()).update(r.rows["site_id"].to_list())
    return root, manifest, accepted, refused, sites


def test_every_vendor_folder_has_records_and_planted_refusals(demo):
    _, manifest, accepted, refused, _ = demo
    for folder in VENDOR_FOLDERS:
        assert accepted[folder] > 0, folder
        assert 1 <= refused[folder] <= 3, folder
        assert manifest.quarantine_expected[folder] == refused[folder], folder


def test_each_site_guarding_comes_from_one_feed(demo):
    _, manifest, _, _, sites = demo
    assert manifest.tracktik_sites == ["S-301"]
    assert sites["tracktik"] == set(manifest.tracktik_sites)
    assert not sites["timesheets"] & sites["tracktik"]


def test_monitoring_contracts_come_from_the_crm(demo):
    root, _, accepted, _, _ = demo
    assert accepted["contracts"] == accepted["crm"] == 4
    assert "recurring" not in "".join(p.read_text() for p in (root / "contracts").glob("*.yaml"))


def test_same_arguments_same_bytes(demo, tmp_path):
    root, *_ = demo
    build_demo_inbox(tmp_path)
    snap = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert snap == {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_tracktik_takes_every_third_client_or_one_site_of_a_small_world():
    from connectors.simulator import build_world

    assert tracktik_sites(build_world(clients=1)) == ["S-102"]
    big = build_world(clients=7)
    assert tracktik_sites(big) == [*big.clients[2].site_ids, *big.clients[5].site_ids]
