"""The book builds offline with every chapter executed, and shows what it promises."""

import ast
import re

import pytest
import yaml
from bs4 import BeautifulSoup

from tfclinic.course.book import build, chapters, lesson_chapters
from tfclinic.project import exercise_notebook
from tfclinic.course.sphinx_lessons import colab_url

# The book is built once per session (tests/conftest.py); one xdist worker runs every module
# of this group, so it is built once for test_book and test_browser together.
pytestmark = pytest.mark.xdist_group("book")

SOLUTION_MARKERS = ["BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN BROKEN"]


def page(html, name):
    return BeautifulSoup((html / f"{name}.html").read_text(), "html.parser")


def repository(project):
    config = yaml.safe_load((project / "book" / "_config.yml").read_text())
    return config["repository"]["url"], config["repository"].get("branch", "main")


def files_mentioning(folder, needles):
    """Every text file under ``folder`` that contains one of ``needles``."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".ipynb", ".md", ".js", ".txt", ".json"}:
            text = path.read_text(errors="replace")
            found += [f"{path.relative_to(folder)}: {n}" for n in needles if n in text]
    return found


@pytest.mark.slow
def test_every_chapter_is_built_and_executed(project, html):
    assert (html / "index.html").is_file()
    for chapter in ["intro", *chapters(project)]:
        assert (html / f"{chapter}.html").is_file(), f"{chapter} was not built"
    for chapter in lesson_chapters(project):
        cells = [c for c in page(html, chapter).select("div.cell") if c.select_one(".cell_input")]
        assert cells, f"{chapter} has no code cells"
        assert any(c.select(".cell_output") for c in cells), f"{chapter} was not executed"
        for cell in cells:
            if not cell.select(".cell_output") and "tag_remove-output" not in cell["class"]:
                source = cell.select_one(".cell_input").get_text()
                assert not shows_something(source), f"{chapter}: no output from\n{source}"


def shows_something(source):
    """Whether running ``source`` in a notebook prints or displays anything: a call to
    print or a plot outside function definitions, or an expression as its last statement."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax: assume it shows something
        return True
    run_now = [stmt for stmt in tree.body  # a function body runs only when it is called
               if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    calls = {node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
             for stmt in run_now for node in ast.walk(stmt) if isinstance(node, ast.Call)}
    last_is_expression = bool(tree.body) and isinstance(tree.body[-1], ast.Expr)
    return last_is_expression or bool(calls & {"print", "display", "show", "plot_loss_curves"})


@pytest.mark.slow
def test_instructor_guide_times_every_lesson_in_the_book(project, html):
    table = page(html, "instructors").select_one("table.tfclinic-timetable")
    assert table is not None
    rows = [[cell.get_text(strip=True) for cell in row.select("td")] for row in table.select("tbody tr")]
    assert [row[0] for row in rows[:-1]] == lesson_chapters(project)
    total = sum(int(row[6].removesuffix(" min")) for row in rows[:-1])
    assert rows[-1][6].startswith(f"{total} min")


@pytest.mark.slow
def test_errors_appear_only_where_a_chapter_expects_them(project, html):
    for chapter in chapters(project):
        for error in page(html, chapter).select(".output.traceback"):
            cell = error.find_parent("div", class_="cell")
            assert "tag_raises-exception" in cell["class"], f"unexpected error in {chapter}"


@pytest.mark.slow
def test_lesson_chapters_show_a_loss_curve(project, html):
    assert lesson_chapters(project), "the book lists no lesson"
    for chapter in lesson_chapters(project):
        images = [img["src"] for img in page(html, chapter).select(".cell_output img")]
        assert images, f"{chapter} has no figure"
        for src in images:
            assert (html / src).stat().st_size > 1000, src


@pytest.mark.slow
def test_shapes_chapter_shows_the_real_errors_and_the_stall(html):
    text = page(html, "shapes").get_text()
    assert "expected axis -1 of input shape to have value 10, but received input with shape (32, 5)" in text
    assert "Expected shape (None, 10), but input has incompatible shape (10,)" in text
    assert "expected min_ndim=4, found ndim=3" in text
    assert re.search(r"variance of y\s+(\d+\.\d+)", text)
    broken = float(re.search(r"broken: \(N,\) - \(N, 1\)\s+final loss\s+([\d.]+)", text).group(1))
    variance = float(re.search(r"variance of y\s+([\d.]+)", text).group(1))
    assert abs(broken - variance) < 0.05 * variance  # stalled at "predict the mean"


@pytest.mark.slow
def test_lesson_pages_open_in_colab_and_download_the_exercise(project, html):
    url, branch = repository(project)
    for lesson in lesson_chapters(project):
        box = page(html, lesson).select_one(".tfclinic-lesson-links:not(.tfclinic-chapter-links)")
        assert box is not None, f"{lesson} has no exercise buttons"
        links = {a.get_text(strip=True): a["href"] for a in box.select("a")}
        owner_repo = url.removeprefix("https://github.com/").strip("/")
        assert links["Open in Colab"] == (f"https://colab.research.google.com/github/{owner_repo}"
                                          f"/blob/{branch}/exercises/{lesson}/{lesson}.ipynb")
        download = html / links[f"Download {lesson}.ipynb"]
        assert download.read_bytes() == exercise_notebook(project, lesson).read_bytes()
        assert links["Read the exercise notebook"] == f"exercises/{lesson}.html"
        assert "Solution notebook (instructors)" not in links


@pytest.mark.slow
def test_every_chapter_with_code_runs_in_colab_and_downloads_as_a_notebook(project, html):
    from tfclinic.course.chapter_notebooks import chapter_notebook_path

    url, branch = repository(project)
    owner_repo = url.removeprefix("https://github.com/").strip("/")
    with_notebook = [c for c in chapters(project) if chapter_notebook_path(project, c).is_file()]
    assert set(lesson_chapters(project)) <= set(with_notebook)
    for chapter in with_notebook:
        box = page(html, chapter).select_one(".tfclinic-chapter-links")
        assert box is not None, f"{chapter} has no Run this chapter buttons"
        links = {a.get_text(strip=True): a["href"] for a in box.select("a")}
        assert links["Run this chapter in Colab"] == (
            f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/chapters/{chapter}.ipynb")
        download = html / links[f"Download the chapter ({chapter}.ipynb)"]
        assert download.read_bytes() == chapter_notebook_path(project, chapter).read_bytes()
    for chapter in set(chapters(project)) - set(with_notebook):
        assert page(html, chapter).select_one(".tfclinic-chapter-links") is None


@pytest.mark.slow
def test_mathjax_is_served_from_the_build(html):
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert any((html / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    scripts = [s["src"] for s in page(html, "dtypes").select("script[src]")]
    assert any(src.endswith("_static/mathjax/tex-chtml.js") for src in scripts), scripts
    assert not [src for src in scripts if "://" in src]  # nothing from another host
    assert files_mentioning(html, ["cdn.jsdelivr.net/npm/mathjax"]) == []


def test_colab_links_are_derived_from_the_repository_url():
    assert colab_url("https://github.com/ada/course.git", "spring", "dtypes") == (
        "https://colab.research.google.com/github/ada/course/blob/spring/exercises/dtypes/dtypes.ipynb")
    with pytest.raises(ValueError, match="GitHub repository address"):
        colab_url("https://gitlab.com/ada/course", "main", "dtypes")


def test_the_repository_url_is_written_in_one_place(project):
    url, _ = repository(project)
    assert url.startswith("https://github.com/")
    sources = [*project.glob("src/tfclinic/*.py"), *project.glob("book/*.md"),
               project / "book" / "_toc.yml", project / "README.md"]
    assert [str(p) for p in sources if url in p.read_text()] == []


@pytest.mark.slow
def test_exercise_pages_show_the_notebook_without_running_it(project, html):
    import nbformat

    for lesson in lesson_chapters(project):
        exercise = page(html, f"exercises/{lesson}")
        notebook = nbformat.read(exercise_notebook(project, lesson), as_version=4)
        code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
        shown = [cell.get_text() for cell in exercise.select("div.cell .cell_input")]
        assert len(shown) == len(code), f"exercises/{lesson} does not show every code cell"
        assert exercise.select("div.cell .cell_output") == [], f"exercises/{lesson} was executed"
        links = {a.get_text(strip=True): a["href"]
                 for a in exercise.select(".tfclinic-lesson-links a")}
        assert links["Back to the chapter"] == f"../{lesson}.html"
        assert "Open in Colab" in links


@pytest.mark.slow
def test_public_book_has_no_solutions(html):
    assert not (html / "solutions").exists()
    assert not list(html.rglob("*solution*"))
    assert files_mentioning(html, SOLUTION_MARKERS) == []


@pytest.mark.slow
def test_instructor_edition_adds_solutions_and_the_public_one_still_has_none(project, book_output):
    index = build(project, output=book_output, echo=False, with_solutions=True)
    assert index == book_output / "_build" / "instructor" / "_build" / "html" / "index.html"
    instructor = index.parent
    for lesson in lesson_chapters(project):
        solution = page(instructor, f"solutions/{lesson}").get_text()
        assert "BEGIN HIDDEN TESTS" in solution, f"solutions/{lesson} lacks its hidden tests"
        links = {a.get_text(strip=True): a["href"]
                 for a in page(instructor, lesson).select(".tfclinic-lesson-links a")}
        assert links["Solution notebook (instructors)"] == f"solutions/{lesson}.html"
    # The instructor build left solution pages in the book's source folder: a public rebuild
    # must still leave them out.
    public = build(project, output=book_output, echo=False).parent
    assert not (public / "solutions").exists()
    assert files_mentioning(public, SOLUTION_MARKERS) == []


MACHINE_PATHS = [r"/tmp/ipykernel_", r"site-packages/", r"\.venv/", r"/home/[a-z]", r"/root/"]


@pytest.mark.slow
def test_no_page_shows_a_path_of_the_build_machine(project, html):
    patterns = [re.compile(p) for p in MACHINE_PATHS + [re.escape(str(project))]]
    found = []
    for path in html.rglob("*.html"):
        if path.relative_to(html).parts[0] in {"_static", "_sources"}:
            continue
        soup = page(html, path.relative_to(html).with_suffix("").as_posix())
        # what the code printed, not the prose (which may name .venv/bin/tfclinic on purpose)
        text = "\n".join(box.get_text() for box in soup.select("div.cell_output"))
        found += [f"{path.relative_to(html)}: {p.pattern}" for p in patterns if p.search(text)]
    assert found == []


def is_sentence(text):
    """Whether a code span reads as message text (three words or more of plain letters),
    not as code such as ``tf.constant([1, 2]) * 0.5``."""
    return sum(bool(re.fullmatch(r"[A-Za-z]+[,.:;]?", word)) for word in text.split()) >= 3


def quoted_error_text(cell):
    """Error text the prose quotes right after ``cell``: code spans of four words or more in
    the paragraphs and lists before the next code cell."""
    quotes = []
    for sibling in cell.find_next_siblings():
        if "cell" in (sibling.get("class") or []) or sibling.name in {"section", "h2", "h3"}:
            break
        quotes += [code.get_text(" ", strip=True) for code in sibling.select("code")
                   if len(code.get_text().split()) >= 4 and is_sentence(code.get_text())]
    return quotes


@pytest.mark.slow
def test_error_text_the_prose_quotes_is_in_the_output_it_describes(project, html):
    checked = 0
    for chapter in lesson_chapters(project):
        for cell in page(html, chapter).select("div.cell.tag_raises-exception"):
            output = " ".join(cell.select_one(".cell_output").get_text().split())
            for quote in quoted_error_text(cell):
                assert " ".join(quote.split()) in output, f"{chapter}: {quote!r} is not in the output above it"
                checked += 1
    assert checked >= 5, f"only {checked} quotes checked"
