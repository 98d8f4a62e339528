"""The Jinja2 environment over templates/: every longer piece of text a user reads."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .figures import shown
from .resources import templates_dir


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(templates_dir())), undefined=StrictUndefined,
                      autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["figure"] = shown  # {{ x|figure }} one decimal, {{ x|figure(0) }} whole: the one rounding rule
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def paragraphs(template: str, **context) -> list[str]:
    """A template rendered and split into paragraphs (blank-line separated), one per worksheet row."""
    text = render(template, **context)
    return [" ".join(line.strip() for line in block.splitlines()).strip()
            for block in text.split("\n\n") if block.strip()]
