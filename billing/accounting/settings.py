"""Account codes for the accounting export: documented defaults, and an optional
`accounting.yaml` in the inbox that changes any of them (docs/invoices.md, "Accounting").

    receivable_account: "1200"           # accounts receivable
    tax_account: "2200"                  # sales tax payable, every jurisdiction...
    tax_accounts: {US-NY: "2210"}        # ...unless named here
    revenue_accounts: {regular_hours: "4010", patrol_visit: "4200"}
    date_format: DD/MM/YYYY              # Xero and QuickBooks files (the journal is always YYYY-MM-DD)
    xero_tax_type: Tax Exempt            # Xero TaxType of every row (tax is its own rows)

Account codes are quoted strings: YAML reads an unquoted 0400 as the number 256. A bad file
is refused naming the file, the line and the field."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

FILE_NAME = "accounting.yaml"

GUARDING = ("regular_hours", "overtime_hours", "double_time_hours", "holiday_hours", "holiday_overtime_hours",
            "special_event_hours", "minimum_shift_adjustment")
# (code, name, categories) of the default revenue accounts.
REVENUE_ACCOUNTS = (
    ("4000", "Guarding services", GUARDING),
    ("4100", "Alarm and incident response", ("incident_fee", "incident_extended_time")),
    ("4200", "Mobile patrol", ("patrol_visit",)),
    ("4300", "Monitoring", ("monitoring", "device_monitoring")),
    ("4400", "Equipment rental", ("equipment_rental",)),
    ("4500", "Service fees", ("service_fee",)),
    ("4900", "Discounts given", ("discount",)),
    ("4950", "Billing adjustments", ("adjustment",)),
)
DEFAULT_REVENUE = {category: code for code, _, categories in REVENUE_ACCOUNTS for category in categories}
ACCOUNT_NAMES = {"1200": "Accounts receivable", "2200": "Sales tax payable",
                 **{code: name for code, name, _ in REVENUE_ACCOUNTS}}
DATE_FORMATS = {"YYYY-MM-DD": "%Y-%m-%d", "MM/DD/YYYY": "%m/%d/%Y", "DD/MM/YYYY": "%d/%m/%Y"}
KEYS = ("receivable_account", "tax_account", "tax_accounts", "revenue_accounts", "date_format", "xero_tax_type")


class AccountingSettingsError(ValueError):
    """accounting.yaml cannot be used: the message names the file, the line and the field."""


@dataclass(frozen=True)
class AccountingSettings:
    receivable_account: str = "1200"
    tax_account: str = "2200"
    tax_accounts: dict[str, str] = field(default_factory=dict)
    revenue_accounts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_REVENUE))
    adjustment_follows_category: bool = True  # unless accounting.yaml names an `adjustment` account
    date_format: str = "MM/DD/YYYY"
    xero_tax_type: str = "Tax Exempt"
    source: str = "defaults"

    def revenue_account(self, category: str) -> str:
        return self.revenue_accounts.get(category, DEFAULT_REVENUE.get(category, "4950"))

    def tax_account_for(self, jurisdiction: str | None) -> str:
        return self.tax_accounts.get(jurisdiction or "", self.tax_account)

    @property
    def strftime(self) -> str:
        return DATE_FORMATS[self.date_format]


def _key_lines(node, path=()) -> dict[tuple, int]:
    """(key, subkey) -> 1-based line, from the YAML node tree."""
    out: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*path, key.value)
            out[here] = key.start_mark.line + 1
            out.update(_key_lines(value, here))
    return out


def load_settings(inbox: Path | None) -> AccountingSettings:
    """The defaults, changed by `<inbox>/accounting.yaml` when there is one."""
    path = Path(inbox) / FILE_NAME if inbox is not None else None
    if path is None or not path.is_file():
        return AccountingSettings()
    text = path.read_text(encoding="utf-8")

    def refuse(key_path: tuple, reason: str):
        line = lines.get(key_path, 1)
        return AccountingSettingsError(f"{path}: line {line}: {'.'.join(map(str, key_path)) or '(file)'}: {reason}")

    lines: dict[tuple, int] = {}
    try:
        lines = _key_lines(yaml.compose(text))
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise AccountingSettingsError(f"{path}: line {mark.line + 1 if mark else 1}: not valid YAML") from err
    if not isinstance(document, dict):
        raise refuse((), "expected a mapping of settings")
    for key in document:
        if key not in KEYS:
            hint = difflib.get_close_matches(str(key), KEYS, n=1)
            raise refuse((key,), "unknown setting" + (f" (did you mean {hint[0]}?)" if hint else ""))

    def code(key_path: tuple, value) -> str:
        if not isinstance(value, str) or not value.strip():
            raise refuse(key_path, f"account code {value!r} must be a quoted string, e.g. \"1200\"")
        return value.strip()

    def codes(key: str, allowed: tuple[str, ...] | None) -> dict[str, str]:
        value = document.get(key) or {}
        if not isinstance(value, dict):
            raise refuse((key,), "expected a mapping")
        for name in value:
            if allowed is not None and name not in allowed:
                hint = difflib.get_close_matches(str(name), allowed, n=1)
                raise refuse((key, name), "not an invoice line category"
                             + (f" (did you mean {hint[0]}?)" if hint else ""))
        return {str(name): code((key, name), account) for name, account in value.items()}

    settings = AccountingSettings()
    revenue = codes("revenue_accounts", tuple(DEFAULT_REVENUE))
    date_format = document.get("date_format", settings.date_format)
    if date_format not in DATE_FORMATS:
        raise refuse(("date_format",), f"{date_format!r} is not one of {', '.join(DATE_FORMATS)}")
    tax_type = document.get("xero_tax_type", settings.xero_tax_type)
    if not isinstance(tax_type, str) or not tax_type.strip():
        raise refuse(("xero_tax_type",), "expected the name of a Xero tax rate, e.g. Tax Exempt")
    return AccountingSettings(
        receivable_account=code(("receivable_account",), document.get("receivable_account",
                                                                      settings.receivable_account)),
        tax_account=code(("tax_account",), document.get("tax_account", settings.tax_account)),
        tax_accounts=codes("tax_accounts", None),
        revenue_accounts={**DEFAULT_REVENUE, **revenue},
        adjustment_follows_category="adjustment" not in revenue,
        date_format=date_format,
        xero_tax_type=tax_type.strip(),
        source=str(path),
    )
