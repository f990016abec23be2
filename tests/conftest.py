"""Fixtures shared by every test module."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project():
    """The tfclinic checkout under test."""
    return ROOT


@pytest.fixture(scope="session")
def book_output(project, tmp_path_factory):
    """The folder that receives ``_build/`` for the public book, built once per session
    from an empty execution cache.

    Test modules that use it are in ``pytest.mark.xdist_group("book")``, so under xdist one
    worker builds the book once for all of them.
    """
    from tfclinic.course.book import build

    output = tmp_path_factory.mktemp("book")
    build(project, output=output, echo=False)
    return output


@pytest.fixture(scope="session")
def html(book_output):
    """The public book's HTML folder (``index.html`` and the pages)."""
    return book_output / "_build" / "html"
