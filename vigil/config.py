"""Where Vigil keeps its state; every path derives from ``$VIGIL_HOME``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

WAREHOUSE_DB = "vigil"
DAGSTER_DB = "vigil_dagster"


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
