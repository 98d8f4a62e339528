"""Where the bundled specs, templates and register live, installed or in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def _folder(name: str) -> Path:
    local = _ROOT / name
    if local.is_dir() and (_ROOT / "pyproject.toml").is_file():
        return local
    # Installed: the folders sit inside the package directory (pyproject maps them there).
    return Path(str(resources.files("scoa_xl"))) / name


def specs_dir() -> Path:
    return _folder("workbook_specs")


def templates_dir() -> Path:
    return _folder("templates")


def data_dir() -> Path:
    return _folder("data")


def default_spec_path() -> Path:
    return specs_dir() / "scoa.yaml"


def default_register_path() -> Path:
    return data_dir() / "councils-england.csv"
