"""The register of councils (name, ONS code, region): who is expected to return."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .clean import clean_text
from .resources import default_register_path


@dataclass(frozen=True, slots=True)
class Council:
    name: str
    code: str
    region: str


@lru_cache(maxsize=8)
def load_register(path: Path | None = None) -> tuple[Council, ...]:
    """Councils from a CSV with at least the columns name and code (region optional)."""
    path = Path(path) if path else default_register_path()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = {c.strip().casefold(): c for c in reader.fieldnames or []}
        if "name" not in cols or "code" not in cols:
            raise ValueError(f"{path}: a register needs the columns name and code; found "
                             f"{', '.join(reader.fieldnames or []) or 'none'}")
        out = []
        for row in reader:
            name = clean_text(row.get(cols["name"]))
            if name:
                out.append(Council(name, clean_text(row.get(cols["code"])).upper(),
                                   clean_text(row.get(cols.get("region", ""), "")) if "region" in cols else ""))
    return tuple(out)


def find_council(name_or_code: str, path: Path | None = None) -> Council | None:
    key = clean_text(name_or_code).casefold()
    for c in load_register(path):
        if key in (c.code.casefold(), c.name.casefold()):
            return c
    return None
