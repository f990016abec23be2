"""Fixtures shared by every test module."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project():
    """The tfclinic checkout under test."""
    return ROOT
