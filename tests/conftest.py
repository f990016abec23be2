"""Fixtures shared by every test module."""

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project():
    """The tfclinic checkout under test."""
    return ROOT


@pytest.fixture(scope="session")
def book_output(project, tmp_path_factory):
    """The folder that receives ``_build/`` for the public book, built once per session.

    The build starts from the execution cache that ``make book`` left in ``book/_build``
    (the README runs ``make book`` before ``make test``, and so does CI): a chapter whose
    code is unchanged since then is not executed again, one whose code changed is, and
    without that cache every chapter runs. Either way the pages hold executed outputs and a
    chapter that raises fails the build.

    Test modules that use it are in ``pytest.mark.xdist_group("book")``, so under xdist one
    worker builds the book once for all of them.
    """
    from tfclinic.course.book import build

    output = tmp_path_factory.mktemp("book")
    made = project / "book" / "_build" / ".jupyter_cache"
    if made.is_dir():
        shutil.copytree(made, output / "_build" / ".jupyter_cache")
    build(project, output=output, echo=False)
    return output


@pytest.fixture(scope="session")
def html(book_output):
    """The public book's HTML folder (``index.html`` and the pages)."""
    return book_output / "_build" / "html"
