"""The Vigil code location: everything under ``defs/`` is discovered and loaded."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


def reload() -> dg.Definitions:
    """The definitions loaded again from scratch: the daily partitions are fixed when the
    modules are imported (orchestration.lib.partitions), so new data before the first
    partition, or a new company timezone, needs fresh modules."""
    stale = [name for name in sys.modules
             if name == "orchestration.lib.partitions" or name.startswith("orchestration.defs")]
    for name in stale:
        del sys.modules[name]
    return defs()
