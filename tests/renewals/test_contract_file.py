"""The `renewal.upgrade` block of a contract file (docs/renewals.md, an extension of
interfaces.md section 3): validated like the prices it replaces, refused whole otherwise."""

from __future__ import annotations

from connectors.inbox.contracts import read_contract
from tests.renewals.inbox import contract_file


def test_a_documented_upgrade_is_accepted(tmp_path):
    path = tmp_path / "C-105.yaml"
    path.write_text(contract_file("C-105"))
    accepted = read_contract(path)
    assert accepted.refusal is None
    assert accepted.document["contracts"][0]["renewal"]["upgrade"]["recurring"][0]["amount"] == "119.00"


def test_a_bad_upgrade_refuses_the_file_naming_the_field(tmp_path):
    path = tmp_path / "C-105.yaml"
    text = contract_file("C-105")
    for broken, field, reason in (
        (text.replace('amount: "119.00"', "amount: 119.00"), "contracts[0].renewal.upgrade.recurring[0].amount",
         "quoted decimal"),
        (text.replace("site_id: S-105, amount: \"119.00\"", "site_id: S-999, amount: \"119.00\""),
         "contracts[0].renewal.upgrade.recurring[0].site_id", "not declared"),
        (text.replace("      upgrade:", "      upgrad:"), "contracts[0].renewal.upgrad", "did you mean 'upgrade'"),
        (text.replace("        recurring:\n          - {code: MON-PLAT", "        rates_x: []\n        #"),
         "contracts[0].renewal.upgrade", "must set at least one of recurring"),
    ):
        path.write_text(broken)
        refusal = read_contract(path).refusal
        assert refusal is not None and refusal.field == field, (field, refusal)
        assert reason in refusal.reason
