"""What the vendor simulators share when they write an export folder: the records planted for
the parser to refuse, and writing the folder so that no file of an earlier, longer run stays
behind to be parsed with it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


def planted_record(source: str, folder: Path, name: str, line: int, record_id: str | None, fld: str, reason: str,
            table: str) -> dict[str, Any]:
    """A record planted in `folder/name` at `line`, in the shape of world.Planted (file relative
    to the inbox), plus the absolute `path`, the `field` and the expected `reason` fragment."""
    return {"kind": f"{source}_{fld.lower()}", "source": source, "record_id": record_id, "expect": "quarantine",
            "note": reason, "file": f"{folder.name}/{name}", "line": line, "path": str(folder / name),
            "field": fld, "reason": reason, "table": table}


def write_files(folder: Path, files: dict[str, str], stale: Iterable[str]) -> list[str]:
    """Write `files` (name -> text) into `folder`, first removing what matches a `stale` pattern
    and is not among them; returns the paths, sorted."""
    for old in {path for pattern in stale for path in folder.glob(pattern)}:
        if old.name not in files:
            old.unlink()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [str(folder / name) for name in sorted(files)]
