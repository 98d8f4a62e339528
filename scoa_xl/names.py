"""How a name taken from outside (a file, an attachment, an archive member) is shown: never as a path."""

from __future__ import annotations

import re

# The same rule as batch.display_name (tests/test_mail.py holds them equal until batch imports this one).
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def display_name(name: str) -> str:
    """A name as text that can be shown and written anywhere: bytes that are not UTF-8, control characters and
    text-direction marks become visible escapes (\\xe9, \\x07), so it stays unique and findable."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}" if ord(m.group()) > 0xff else
                          f"\\x{ord(m.group()):02x}", text)
