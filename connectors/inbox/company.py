"""`company.yaml` at the inbox root (interfaces.md section 2a): the billing company itself ->
one accepted document in raw.company_documents, or the whole file refused.

Like a contract file it is all-or-nothing, every problem is reported with its field and
YAML line, unknown keys are errors, and a refused file leaves the earlier accepted version
in force. `timezone` (default UTC) is the company's business day (collections.md section 0).
`logo` is a path inside the inbox; the image's bytes are stored with the document, so an
invoice rendered later does not depend on the inbox still holding the file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from connectors.base import FileRead, ParseResult, Quarantined, sha256_text
from connectors.inbox.contracts import (
    _EMAIL,
    _PHONE,
    Problem,
    Validator,
    canonical_json,
    line_of,
    load_yaml,
    to_json,
)

SOURCE = "company"
TABLE = "company_documents"
FILE_NAMES = ("company.yaml", "company.yml")

REQUIRED = ("name", "address", "email", "phone", "tax_id", "remit_to")
OPTIONAL = ("timezone", "logo", "sales_email")
LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
              ".svg": "image/svg+xml", ".webp": "image/webp"}
LOGO_MAX_BYTES = 1_000_000


@dataclass(frozen=True)
class Logo:
    content: bytes
    media_type: str


def _lines(v: Validator, value: Any, path: str) -> None:
    """Address-like fields: a list of non-empty lines."""
    if isinstance(value, str):
        v.fail(path, "must be a list of lines (one '- ' item per line)")
        return
    items = v.sequence(value, path)
    if value is not None and isinstance(value, list) and not items:
        v.fail(path, "must have at least one line")
    for index, line in enumerate(items):
        v.text(line, f"{path}[{index}]")


def _email(v: Validator, value: Any, path: str) -> None:
    text = v.text(value, path)
    if text is not None and not _EMAIL.match(text):
        v.fail(path, f"{text!r} is not an email address")


def _logo(v: Validator, value: Any, inbox: Path) -> Logo | None:
    text = v.text(value, "logo")
    if text is None:
        return None
    relative = Path(text)
    root = inbox.resolve()
    target = (root / relative).resolve()
    if relative.is_absolute() or not target.is_relative_to(root):
        v.fail("logo", f"{text!r} must be a path inside the inbox (e.g. logo.png at its root)")
        return None
    media_type = LOGO_TYPES.get(target.suffix.lower())
    if media_type is None:
        v.fail("logo", f"{text!r} is not an image this project renders ({', '.join(sorted(LOGO_TYPES))})")
        return None
    if not target.is_file():
        v.fail("logo", f"{text!r} does not exist in the inbox")
        return None
    content = target.read_bytes()
    if len(content) > LOGO_MAX_BYTES:
        v.fail("logo", f"{text!r} is {len(content):,} bytes; at most {LOGO_MAX_BYTES:,}")
        return None
    return Logo(content, media_type)


def validate_company(doc: Any, inbox: Path) -> tuple[list[Problem], Logo | None]:
    """Every problem of one parsed company document (empty: accepted), and its logo."""
    v = Validator()
    top = v.mapping(doc, "", REQUIRED, OPTIONAL)
    if top is None:
        return v.problems, None
    for key in ("name", "tax_id"):
        if top.get(key) is not None:
            v.text(top[key], key)
    for key in ("address", "remit_to"):
        if top.get(key) is not None:
            _lines(v, top[key], key)
    for key in ("email", "sales_email"):
        if top.get(key) is not None:
            _email(v, top[key], key)
    phone = top.get("phone")
    if phone is not None and v.text(phone, "phone") and not _PHONE.match(phone):
        v.fail("phone", f"{phone!r} is not a phone number")
    if top.get("timezone") is not None:
        v.timezone(top["timezone"], "timezone")
    logo = _logo(v, top["logo"], inbox) if top.get("logo") is not None else None
    return v.problems, logo


def _refusal(path: str, text: str, problems: list[Problem], lines: dict[str, int]) -> Quarantined:
    problems = sorted(problems, key=lambda problem: line_of(problem.path, lines) or 0)
    first = problems[0]
    reason = f"{first.path}: {first.reason}" if first.path else first.reason
    if len(problems) > 1:
        reason += " (also " + "; ".join(f"{p.path}: {p.reason}" for p in problems[1:10]) + ")"
    return Quarantined(SOURCE, path, line_of(first.path, lines), None, first.path or None,
                       f"company file rejected: {reason}", text)


def parse_company(path: Path, inbox: Path | None = None) -> ParseResult:
    """company.yaml -> ParseResult for raw.company_documents (`document` canonical JSON text,
    `logo`, `logo_media_type`, `source_file`, `content_hash`): one row, or one refusal. Pure."""
    path = Path(path)
    inbox = Path(inbox) if inbox is not None else path.parent
    data = path.read_bytes()
    file_read = FileRead(SOURCE, str(path), hashlib.sha256(data).hexdigest(), 1)
    schema = {"document": pl.Utf8, "logo": pl.Binary, "logo_media_type": pl.Utf8, "source_file": pl.Utf8,
              "content_hash": pl.Utf8}

    def refused(line: int | None, reason: str, text: str) -> ParseResult:
        quarantined = Quarantined(SOURCE, str(path), line, None, None, f"company file rejected: {reason}", text)
        return ParseResult(SOURCE, TABLE, pl.DataFrame(schema=schema), [quarantined], [file_read])

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return refused(None, f"not UTF-8 ({exc.reason})", data.decode("utf-8", errors="replace"))
    try:
        doc, lines, problems = load_yaml(text)
    except (yaml.YAMLError, ValueError) as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        return refused(mark.line + 1 if mark is not None else None,
                       f"not valid YAML: {getattr(exc, 'problem', None) or exc}", text)
    found, logo = validate_company(doc, inbox)
    problems = problems + found
    if problems:
        quarantined = _refusal(str(path), text, problems, lines)
        return ParseResult(SOURCE, TABLE, pl.DataFrame(schema=schema), [quarantined], [file_read])
    document = canonical_json(to_json(doc))
    logo_digest = hashlib.sha256(logo.content).hexdigest() if logo else ""
    row = {"document": document, "logo": logo.content if logo else None,
           "logo_media_type": logo.media_type if logo else None, "source_file": str(path),
           "content_hash": sha256_text(f"{document}\n{logo_digest}")}
    return ParseResult(SOURCE, TABLE, pl.DataFrame([row], schema=schema), [], [file_read])
