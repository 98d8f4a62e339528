"""The register of councils (name, ONS code, region): who is expected to return.

Also the one rule for "the same council": by ONS code where one is known, else by the name, case and
spacing aside (`council_key`); and a register's `match` for a council as a return names it.
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .clean import clean_text
from .errors import InputError
from .resources import default_register_path


@dataclass(frozen=True, slots=True)
class Council:
    name: str
    code: str
    region: str
    email: str = ""  # the council's contact for this work (optional column `email`): where drafts are addressed


@lru_cache(maxsize=8)
def load_register(path: Path | None = None) -> tuple[Council, ...]:
    """Councils from a CSV with at least the columns name and code (region and email optional)."""
    path = Path(path) if path else default_register_path()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = {c.strip().casefold(): c for c in reader.fieldnames or []}
        if "name" not in cols or "code" not in cols:
            raise InputError(f"{path}: a register needs the columns name and code; found "
                             f"{', '.join(reader.fieldnames or []) or 'none'}")
        out = []
        for row in reader:
            name = clean_text(row.get(cols["name"]))
            if name:
                out.append(Council(name, clean_text(row.get(cols["code"])).upper(),
                                   clean_text(row.get(cols["region"])) if "region" in cols else "",
                                   clean_text(row.get(cols["email"])) if "email" in cols else ""))
    return tuple(out)


def normal_name(name: str) -> str:
    """A name as compared: case, repeated and odd spaces aside."""
    return " ".join(clean_text(name).split()).casefold()


def council_key(code: str, name: str) -> str:
    """Councils are the same when their ONS codes are; on the name only where no code is known."""
    return clean_text(code).upper() or normal_name(name)


def respondent_key(code: str, council: str, name: str, organisation: str) -> tuple[str, str, str] | None:
    """The one rule for "the same respondent": the same council, name and organisation (case and spacing aside);
    None when a return does not say which council or who."""
    ckey, who = council_key(code, council), normal_name(name)
    if not ckey or not who:
        return None
    return ckey, who, normal_name(organisation)


class Register:
    """A register loaded for matching (empty when none is given and the bundled one cannot be read)."""

    def __init__(self, councils: tuple[Council, ...]):
        self.councils = councils
        self._by_code = {c.code.upper(): c for c in councils if c.code}
        self._by_name = {normal_name(c.name): c for c in councils}

    @classmethod
    def load(cls, path: Path | None) -> Register:
        """The register at `path` (a bad one is an InputError); without a path, the bundled one, if it reads."""
        if path is not None:
            return cls(load_register(Path(path)))
        try:
            return cls(load_register(None))
        except (OSError, InputError):
            return cls(())

    def match(self, code: str, name: str) -> Council | None:
        """The council a return names: by its code when it gives one, else by its name."""
        code = clean_text(code).upper()
        if code:
            return self._by_code.get(code)
        return self._by_name.get(normal_name(name))


@lru_cache(maxsize=1)
def bundled_register() -> Register:
    """The register that comes with the tool (empty if it cannot be read), loaded once."""
    return Register.load(None)


def find_council(name_or_code: str, path: Path | None = None) -> Council | None:
    """A council by its name or its ONS code."""
    text = clean_text(name_or_code)
    reg = Register(load_register(path))
    return reg.match(text, "") or reg.match("", text)


ONS_CODE = re.compile(r"E\d{8}")  # an English local authority's GSS code: E and eight digits


def looks_like_ons_code(code: str) -> bool:
    return bool(ONS_CODE.fullmatch(clean_text(code).upper()))


def nearest(name: str, councils: tuple[Council, ...], n: int = 3) -> list[str]:
    """The register's names closest to `name` ("did you mean Leeds?"), best first."""
    by_key = {normal_name(c.name): c.name for c in councils}
    return [by_key[k] for k in difflib.get_close_matches(normal_name(name), list(by_key), n=n, cutoff=0.6)]
