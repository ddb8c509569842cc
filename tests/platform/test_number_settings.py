"""Numeric settings from the environment: a default when unset, a one-line error naming the
variable when not a number or negative (never a traceback deep in a run)."""

from __future__ import annotations

import pytest

from vigil import config

SETTINGS = [(config.inbox_settle_seconds, "VIGIL_INBOX_SETTLE_SECONDS", 30.0, "seconds"),
            (config.full_build_days, "VIGIL_FULL_BUILD_DAYS", 7.0, "days")]


@pytest.mark.parametrize(("read", "name", "default", "unit"), SETTINGS)
def test_default_value_and_refusals_name_the_variable(monkeypatch, read, name, default, unit):
    monkeypatch.delenv(name, raising=False)
    assert read() == default
    monkeypatch.setenv(name, "2.5")
    assert read() == 2.5
    monkeypatch.setenv(name, "soon")
    with pytest.raises(config.ConfigError, match=f"{name}='soon' is not a number of {unit}"):
        read()
    monkeypatch.setenv(name, "-1")
    with pytest.raises(config.ConfigError, match=f"{name}='-1' must not be negative"):
        read()
