"""The book builds offline with every chapter executed, and shows what it promises."""

import re

import pytest
from bs4 import BeautifulSoup

from tfclinic.book import build

pytestmark = pytest.mark.xdist_group("book")  # one worker builds the book once for the module


def chapters(project):
    return re.findall(r"file:\s*(\S+)", (project / "book" / "_toc.yml").read_text())


@pytest.fixture(scope="module")
def html(project, tmp_path_factory):
    """Build the book once, from an empty execution cache, into a temporary folder."""
    index = build(project, output=tmp_path_factory.mktemp("book"), echo=False)
    return index.parent


@pytest.mark.slow
def test_every_chapter_is_built_and_executed(project, html):
    assert (html / "index.html").is_file()
    for chapter in ["intro", *chapters(project)]:
        page = BeautifulSoup((html / f"{chapter}.html").read_text(), "html.parser")
        cells = page.select("div.cell")
        if chapter == "intro":
            continue
        assert cells, f"{chapter} has no code cells"
        assert all(c.select(".cell_output") for c in page.select("div.cell")
                   if c.select_one(".cell_input")), f"{chapter} has a code cell without output"


@pytest.mark.slow
def test_errors_appear_only_where_a_chapter_expects_them(project, html):
    for chapter in chapters(project):
        page = BeautifulSoup((html / f"{chapter}.html").read_text(), "html.parser")
        for error in page.select(".output.traceback"):
            cell = error.find_parent("div", class_="cell")
            assert "tag_raises-exception" in cell["class"], f"unexpected error in {chapter}"


@pytest.mark.slow
def test_lesson_chapters_show_a_loss_curve(project, html):
    for chapter in chapters(project):
        page = BeautifulSoup((html / f"{chapter}.html").read_text(), "html.parser")
        images = [img["src"] for img in page.select(".cell_output img")]
        assert images, f"{chapter} has no figure"
        for src in images:
            assert (html / src).stat().st_size > 1000, src


@pytest.mark.slow
def test_shapes_chapter_shows_the_real_errors_and_the_stall(html):
    text = BeautifulSoup((html / "shapes.html").read_text(), "html.parser").get_text()
    assert "expected axis -1 of input shape to have value 10, but received input with shape (32, 5)" in text
    assert "Expected shape (None, 10), but input has incompatible shape (10,)" in text
    assert "expected min_ndim=4, found ndim=3" in text
    assert re.search(r"variance of y\s+(\d+\.\d+)", text)
    broken = float(re.search(r"broken: \(N,\) - \(N, 1\)\s+final loss\s+([\d.]+)", text).group(1))
    variance = float(re.search(r"variance of y\s+([\d.]+)", text).group(1))
    assert abs(broken - variance) < 0.05 * variance  # stalled at "predict the mean"
