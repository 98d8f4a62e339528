"""Shared pytest fixtures."""

from __future__ import annotations

import os

import pytest
from office import find_soffice


@pytest.fixture(scope="session")
def soffice() -> str:
    """Path of LibreOffice's soffice; skip without it, but fail in CI."""
    path = find_soffice()
    if path is None:
        message = "LibreOffice (soffice) not found; install libreoffice-calc-nogui"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
