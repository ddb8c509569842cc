"""Where Vigil keeps its state (every path derives from ``$VIGIL_HOME``) and the settings
every layer reads from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

WAREHOUSE_DB = "vigil"
DAGSTER_DB = "vigil_dagster"

PAYMENT_MODES = ("stripe", "local", "off")


class ConfigError(ValueError):
    """A setting in the environment that cannot work; the message names the variable."""


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def outbox(self) -> Path:
        return self.home / "outbox"

    @property
    def pdfs(self) -> Path:
        return self.home / "invoices"

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def services(self) -> Path:
        return self.home / "services"


def vigil_home() -> Path:
    return Path(os.environ.get("VIGIL_HOME", ".vigil")).expanduser().resolve()


def paths() -> Paths:
    return Paths(vigil_home())


def payments_mode() -> str:
    """``VIGIL_PAYMENTS`` (interfaces.md section 8): ``stripe`` when ``STRIPE_API_KEY`` is set,
    otherwise ``off``; `vigil demo` defaults it to ``local`` (localstripe). ``off`` charges
    nothing, so nothing is ever recorded as paid without a provider's answer."""
    mode = os.environ.get("VIGIL_PAYMENTS", "").strip().lower()
    if not mode:
        return "stripe" if os.environ.get("STRIPE_API_KEY") else "off"
    if mode not in PAYMENT_MODES:
        raise ConfigError(f"VIGIL_PAYMENTS={mode!r} is not one of {', '.join(PAYMENT_MODES)}")
    if mode == "stripe" and not os.environ.get("STRIPE_API_KEY"):
        raise ConfigError("VIGIL_PAYMENTS=stripe needs STRIPE_API_KEY")
    return mode


def _non_negative(name: str, default: float, unit: str) -> float:
    """A non-negative number from the environment, or `default` when unset."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number of {unit}") from None
    if value < 0:
        raise ConfigError(f"{name}={text!r} must not be negative")
    return value


def inbox_settle_seconds() -> float:
    """``VIGIL_INBOX_SETTLE_SECONDS`` (default 30): how long a file in the watched inbox must
    be left unchanged before the sensor and the schedule read it, so a file still being
    copied is not ingested half-written. `vigil run --inbox` reads everything at once."""
    return _non_negative("VIGIL_INBOX_SETTLE_SECONDS", 30.0, "seconds")


def inbox_archive() -> Path | None:
    """``VIGIL_INBOX_ARCHIVE``: a folder where ingested record exports are moved (by day);
    unset (the default), files stay in the inbox and are recognised as ingested."""
    text = os.environ.get("VIGIL_INBOX_ARCHIVE", "").strip()
    return Path(text).expanduser().resolve() if text else None


def full_build_days() -> float:
    """``VIGIL_FULL_BUILD_DAYS`` (default 7): the marts are built incrementally, and whole again
    at least this often (its result compared with the incremental one); 0 builds them whole
    every run."""
    return _non_negative("VIGIL_FULL_BUILD_DAYS", 7.0, "days")
