"""The one cleaning step for what people type."""

from __future__ import annotations

from scoa_xl.clean import clean_long_text, clean_text


def test_text_direction_overrides_are_removed_from_names_and_free_text():
    # "Leeds\u202eslx.exe" would display reversed; the override itself carries no meaning.
    assert clean_text("Leeds\u202eslx.exe") == "Leedsslx.exe"
    assert clean_text("\u2066York\u2069") == "York"
    assert clean_long_text("Good\u202d work\nnext line") == "Good work\nnext line"


def test_spaces_quotes_and_dashes_are_made_plain():
    assert clean_text("  Don\u2019t\u00a0know ") == "Don't know"
    assert clean_text("4 \u2013 Supports us") == "4 - Supports us"
    assert clean_text(5.0) == "5"
