"""The one cleaning step for what people type, applied once on read."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import lru_cache

from .model import Choice

_SPACES = re.compile(r"[ \t\u00a0\u2007\u202f\u2009\u200a\u3000]+")
_WHOLE = re.compile(r"^(\d+)\.0+$")
_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u200b": None, "\ufeff": None,
    # Text-direction overrides make a name display as something else ("Trojan source"): never keep them.
})


# Text-direction overrides make a name display as something else ("Trojan source"): never keep them.
_BIDI = str.maketrans({chr(c): None for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def clean_text(value: object) -> str:
    """A cell's value as tidy text: trimmed, single-spaced, straight quotes, whole numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    # A return's short texts are mostly the same few labels and headings: each is tidied once.
    return _clean_short(text) if len(text) <= _MEMO_CHARS else _clean_str(text)


def _clean_str(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_TRANSLATE).translate(_BIDI)
    return _SPACES.sub(" ", text).strip()


_clean_short = lru_cache(maxsize=16384)(_clean_str)


def clean_long_text(value: object) -> str:
    """Free text keeps its line breaks; only the ends are trimmed and odd spaces made plain."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return clean_text(value)
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("_x000D_", "").replace("\u00a0", " ").translate(_BIDI)
    return text.strip()


@lru_cache(maxsize=4096)  # called for every choice of every dropdown answer: the labels are few
def _key(text: str) -> str:
    return clean_text(text).casefold()


def match_choice(value: object, choices: tuple[Choice, ...]) -> object:
    """The value of the choice a cell holds; `None` for a blank cell; `NOT_ON_LIST` if it matches none.

    Accepts the label in any case and spacing, the value itself ("4", 4.0, "in_control"),
    the label's leading number ("4" for "4 - Supports us"), and yes/no words for booleans.
    """
    if isinstance(value, str | float | int | bool) and len(str(value)) <= _MEMO_CHARS:
        # A return holds a few hundred dropdown answers drawn from a handful of labels: each is worked out once,
        # in a table per list of choices (found by identity: hashing the list for every answer cost more than
        # matching it).
        held = _TABLES.get(id(choices))
        if held is None or held[0] is not choices:
            if len(_TABLES) >= _MAX_TABLES:
                _TABLES.clear()
            held = _TABLES[id(choices)] = (choices, {})
        table = held[1]
        key = (type(value), value)  # 1, 1.0 and True are different entries
        found = table.get(key, _MISSING)
        if found is _MISSING:
            if len(table) >= _MAX_TABLE:
                table.clear()
            found = table[key] = _match(value, choices)
        return found
    return _match(value, choices)


_MEMO_CHARS = 200  # a longer entry is not a dropdown label: worked out each time, never remembered
_MAX_TABLES, _MAX_TABLE = 64, 8192
_MISSING = object()
# id(choices) -> (choices, {(type, value): match}); holding `choices` keeps its id from being reused.
_TABLES: dict[int, tuple[tuple[Choice, ...], dict[tuple[type, object], object]]] = {}


def _match(value: object, choices: tuple[Choice, ...]) -> object:
    text = clean_text(value)
    if text == "":
        return None
    key = _WHOLE.sub(r"\1", text).casefold()
    for c in choices:
        if key == _key(c.label):
            return c.value
    for c in choices:
        if c.value is not None and not isinstance(c.value, bool) and key == _key(str(c.value)):
            return c.value
    if any(isinstance(c.value, bool) for c in choices):
        if key in {"y", "yes", "true", "1"}:
            return True
        if key in {"n", "no", "false", "0"}:
            return False
    if key in {"dont know", "don't know", "do not know", "dk", "n/a"} and any(c.value is None for c in choices):
        return DONT_KNOW
    return NOT_ON_LIST


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


NOT_ON_LIST = _Marker("NOT_ON_LIST")
DONT_KNOW = _Marker("DONT_KNOW")


def match_rating(value: object, choices: tuple[Choice, ...]) -> object:
    """Like match_choice, but the 'don't know' label gives DONT_KNOW rather than a blank."""
    text = clean_text(value)
    if text == "":
        return None
    for c in choices:
        if c.value is None and text.casefold() == _key(c.label):
            return DONT_KNOW
    return match_choice(value, choices)
