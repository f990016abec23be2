"""Sphinx extension for the book: each lesson chapter leads to its exercise notebook.

Registered in ``book/_config.yml`` (``sphinx: extra_extensions``). For every chapter of
``_toc.yml`` that is a lesson (a name in :func:`tfclinic.project.lessons`) it

- puts buttons under the chapter title: *Open in Colab* (derived from ``repository.url`` and
  ``repository.branch`` in ``_config.yml``, the one place that names the repository), a
  download of ``exercises/<lesson>/<lesson>.ipynb``, and a link to the exercise page;
- adds the exercise notebook as a page of the book, nested under the chapter and never
  executed: a copy is written to ``book/exercises/<lesson>.ipynb`` (a generated folder that
  ignores itself in git) with ``mystnb.execution_mode: off`` in its metadata;
- puts *Run this chapter* buttons under the title of every chapter that has a notebook in
  ``chapters/`` (:mod:`tfclinic.course.chapter_notebooks`): Colab, and a download of the notebook;
- provides the ``{lesson-timetable}`` and ``{wrong-fixes}`` directives of the instructor guide;
- serves MathJax from the build (``_static/mathjax``, from the sphinx-mathjax-offline
  package) instead of a CDN, so a book opened offline still typesets its formulas;
- uses the published book's address as ``html_baseurl`` in the publish build
  (``$TFCLINIC_BOOK_URL``, set by ``tfclinic book --publish``);
- in the instructor edition only (``tfclinic_with_solutions``, set by
  ``tfclinic book --with-solutions``), does the same with the nbgrader source notebook,
  solutions and hidden tests included, in ``book/solutions/``. The public edition excludes
  that folder, so no solution reaches it even when an instructor build left one behind.

It also drops a duplicated inline script of sphinx-thebe that logs a console error on every
page. Everything is read from the checkout; the build downloads nothing, and the pages load
nothing from elsewhere.
"""

import os
import shutil
from pathlib import Path

import nbformat
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from .chapter_notebooks import FOLDER as CHAPTERS, chapter_notebook_path
from ..project import exercise_notebook, lessons, solution_notebook
from ..publishing import BOOK_URL_VARIABLE, github_repository

logger = logging.getLogger(__name__)

WITH_SOLUTIONS_VARIABLE = "TFCLINIC_BOOK_WITH_SOLUTIONS"
EXECUTION_CACHE_VARIABLE = "TFCLINIC_BOOK_EXECUTION_CACHE"

EXERCISES = "exercises"  # book/exercises/<lesson>.ipynb: the student notebooks, as pages
SOLUTIONS = "solutions"  # book/solutions/<lesson>.ipynb: instructor edition only
GENERATED_FOLDERS = (EXERCISES, SOLUTIONS)

EXERCISE_TITLE = "Exercise notebook"
SOLUTION_TITLE = "Solution notebook (instructors)"
LINKS_CLASS = "tfclinic-lesson-links"
BUTTON_CLASSES = ["sd-btn", "sd-btn-outline-primary", "sd-shadow-sm", "sd-mr-2", "sd-mb-2"]
PRIMARY_BUTTON_CLASSES = ["sd-btn", "sd-btn-primary", "sd-shadow-sm", "sd-mr-2", "sd-mb-2"]

_GITIGNORE = "# Written by tfclinic.course.sphinx_lessons while the book builds; not source.\n*\n"
MATHJAX_SCRIPT = "mathjax/tex-chtml.js"  # in _static/; the component with TeX input, HTML output
# What tex-chtml.js loads at run time: its fonts, TeX extensions named in a page, the menu's
# accessibility parts. The other combined components (SVG output, MathML input) are left out.
MATHJAX_PARTS = ("tex-chtml.js", "input/tex/extensions", "output/chtml", "a11y", "ui", "sre")


def notebook_colab_url(repository_url, branch, path):
    """The Colab address that opens the notebook at ``path`` of the repository from GitHub.

    Raises:
        ValueError: if ``repository_url`` is not a GitHub repository address.

    Example:
        >>> notebook_colab_url("https://github.com/ada/course", "main", "chapters/shapes.ipynb")
        'https://colab.research.google.com/github/ada/course/blob/main/chapters/shapes.ipynb'
    """
    owner, repo = github_repository(repository_url)
    return f"https://colab.research.google.com/github/{owner}/{repo}/blob/{branch}/{path}"


def colab_url(repository_url, branch, lesson):
    """The Colab address that opens ``exercises/<lesson>/<lesson>.ipynb`` from GitHub.

    Args:
        repository_url: ``https://github.com/OWNER/REPO``, from ``repository.url``.
        branch: the branch Colab reads, from ``repository.branch``.
        lesson: the lesson name.

    Returns:
        ``https://colab.research.google.com/github/OWNER/REPO/blob/BRANCH/exercises/...``

    Raises:
        ValueError: if ``repository_url`` is not a GitHub repository address.

    Example:
        >>> colab_url("https://github.com/ada/course", "main", "shapes")
        'https://colab.research.google.com/github/ada/course/blob/main/exercises/shapes/shapes.ipynb'
    """
    return notebook_colab_url(repository_url, branch, f"{EXERCISES}/{lesson}/{lesson}.ipynb")


def page_notebook(source):
    """The text of a notebook page copied from ``source``: unchanged, except that myst-nb
    is told never to execute it."""
    notebook = nbformat.read(source, as_version=4)
    notebook.metadata["mystnb"] = {"execution_mode": "off"}
    return nbformat.writes(notebook)


def _write_if_changed(path, text):
    """Write ``text`` to ``path`` atomically, and only if it differs: an unchanged page keeps
    its modification time, so Sphinx does not read it again."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _generate_pages(srcdir, folder, sources):
    """Write one notebook page per lesson into ``srcdir/folder`` and remove stale ones."""
    target = Path(srcdir) / folder
    target.mkdir(exist_ok=True)
    _write_if_changed(target / ".gitignore", _GITIGNORE)
    for lesson, source in sources.items():
        _write_if_changed(target / f"{lesson}.ipynb", page_notebook(source))
    for stale in target.glob("*.ipynb"):
        if stale.stem not in sources:
            stale.unlink(missing_ok=True)


def _lesson_pages(app, config):
    """``config-inited``, after sphinx-external-toc parsed ``_toc.yml``: write the notebook
    pages and hang them under their chapters in the table of contents."""
    from sphinx_external_toc.api import Document, FileItem, TocTree

    if not config.tfclinic_with_solutions and os.environ.get(WITH_SOLUTIONS_VARIABLE) == "1":
        config.tfclinic_with_solutions = True
    if os.environ.get(EXECUTION_CACHE_VARIABLE):
        config.nb_execution_cache_path = os.environ[EXECUTION_CACHE_VARIABLE]
    if os.environ.get(BOOK_URL_VARIABLE):
        config.html_baseurl = os.environ[BOOK_URL_VARIABLE]
    if _mathjax_folder() is not None:
        config.mathjax_path = MATHJAX_SCRIPT
    else:
        logger.warning("tfclinic: sphinx-mathjax-offline is not installed, so the book's "
                       "formulas need MathJax from the internet; pip install 'tfclinic[course]'")
    app.tfclinic_lessons = {}
    app.tfclinic_chapters = {}
    site_map = getattr(config, "external_site_map", None)
    root = Path(app.srcdir).parent
    if site_map is None or not (root / "solutions").is_dir():
        return

    repository = config.html_theme_options.get("repository_url", "")
    branch = config.html_theme_options.get("repository_branch") or "main"
    known = set(lessons(root))
    for chapter in site_map:
        notebook = chapter_notebook_path(root, chapter)
        if notebook.is_file():
            try:
                colab = notebook_colab_url(repository, branch, f"{CHAPTERS}/{chapter}.ipynb")
            except ValueError as error:
                logger.warning(f"tfclinic: {error}; set it in book/_config.yml")
                return
            app.tfclinic_chapters[chapter] = {
                "colab": colab, "download": f"/../{notebook.relative_to(root).as_posix()}",
                "name": notebook.name}
    exercises, solutions = {}, {}
    for lesson in [name for name in site_map if name in known]:
        source = exercise_notebook(root, lesson)
        if not source.is_file():
            logger.warning(f"tfclinic: the chapter {lesson!r} has no exercise notebook "
                           f"{source.relative_to(root)}; run `tfclinic release`")
            continue
        try:
            colab = colab_url(repository, branch, lesson)
        except ValueError as error:
            logger.warning(f"tfclinic: {error}; set it in book/_config.yml")
            return
        exercises[lesson] = source
        if config.tfclinic_with_solutions:
            solutions[lesson] = solution_notebook(root, lesson)
        app.tfclinic_lessons[lesson] = {"colab": colab,
                                        "download": f"/../{source.relative_to(root).as_posix()}"}

    _generate_pages(app.srcdir, EXERCISES, exercises)
    if config.tfclinic_with_solutions:
        _generate_pages(app.srcdir, SOLUTIONS, solutions)
    for folder, pages, title in [(EXERCISES, exercises, EXERCISE_TITLE),
                                 (SOLUTIONS, solutions, SOLUTION_TITLE)]:
        for lesson in pages:
            page = f"{folder}/{lesson}"
            site_map[page] = Document(page, title=title)
            site_map[lesson].subtrees.append(TocTree([FileItem(page)], hidden=True))

    # sphinx-external-toc excluded every file missing from _toc.yml, generated pages included
    # when they already existed. Replace those entries with a fixed rule, so that the list,
    # which Sphinx compares between builds, does not depend on earlier builds.
    ours = tuple(f"{folder}/" for folder in GENERATED_FOLDERS)
    patterns = [p for p in config.exclude_patterns if not p.startswith(ours)]
    if not config.tfclinic_with_solutions:
        patterns.append(SOLUTIONS)  # the public edition never reads a solution
    config.exclude_patterns = patterns


def _button(node, classes):
    node["classes"] += ["tfclinic-button", *classes]
    return node


def _paragraph(text):
    """A paragraph node from ``text`` in which `backticks` mark code."""
    paragraph = nodes.paragraph()
    for index, part in enumerate(text.split("`")):
        if part:
            paragraph += nodes.literal(text=part) if index % 2 else nodes.Text(part)
    return paragraph


def _link_box(docname, lesson, links, kind):
    """The paragraph of buttons put under the title of a lesson chapter or notebook page."""
    box = nodes.container(classes=[LINKS_CLASS])
    if kind == "chapter":
        intro = "The exercise for this chapter:"
    elif kind == EXERCISES:
        intro = (f"The student notebook `exercises/{lesson}/{lesson}.ipynb` as it is handed out, "
                 "shown without running it. Repair it until `tfclinic validate` passes every "
                 "test.")
    else:
        intro = (f"Instructor edition: the nbgrader source notebook `solutions/{lesson}/"
                 f"{lesson}.ipynb`, with solutions and hidden tests. The public book leaves it out.")
    box += _paragraph(intro)
    buttons = nodes.paragraph()
    buttons += _button(nodes.reference("", "Open in Colab", refuri=links["colab"],
                                       reftitle="Open the exercise notebook in Google Colab"),
                       PRIMARY_BUTTON_CLASSES)
    download = addnodes.download_reference("", "", refdoc=docname, reftarget=links["download"],
                                           refexplicit=True)
    download += nodes.inline(text=f"Download {lesson}.ipynb")
    buttons += _button(download, BUTTON_CLASSES)
    targets = {"chapter": [(f"/{EXERCISES}/{lesson}", "Read the exercise notebook")],
               EXERCISES: [(f"/{lesson}", "Back to the chapter")],
               SOLUTIONS: [(f"/{lesson}", "Back to the chapter"),
                           (f"/{EXERCISES}/{lesson}", "The student's version")]}[kind]
    if kind == "chapter" and links.get("solution"):
        targets.append((f"/{SOLUTIONS}/{lesson}", "Solution notebook (instructors)"))
    for target, text in targets:
        xref = addnodes.pending_xref("", nodes.inline(text=text), refdomain="std", reftype="doc",
                                     reftarget=target, refdoc=docname, refexplicit=True,
                                     refwarn=True)
        buttons += _button(xref, BUTTON_CLASSES)
    box += buttons
    return box


def _chapter_box(docname, links):
    """The paragraph of buttons that runs the chapter itself: Colab and a notebook download."""
    box = nodes.container(classes=[LINKS_CLASS, "tfclinic-chapter-links"])
    box += _paragraph("Run this chapter's code yourself, as a notebook (its first cell installs "
                      "tfclinic where it is missing):")
    buttons = nodes.paragraph()
    buttons += _button(nodes.reference("", "Run this chapter in Colab", refuri=links["colab"],
                                       reftitle="Open this chapter as a notebook in Google Colab"),
                       PRIMARY_BUTTON_CLASSES)
    download = addnodes.download_reference("", "", refdoc=docname, reftarget=links["download"],
                                           refexplicit=True)
    download += nodes.inline(text=f"Download the chapter ({links['name']})")
    buttons += _button(download, BUTTON_CLASSES)
    box += buttons
    return box


def _insert_links(app, doctree):
    """``doctree-read``, before Sphinx collects downloads: put the buttons under the title."""
    docname = app.env.docname
    pages = getattr(app, "tfclinic_lessons", {})
    chapters = getattr(app, "tfclinic_chapters", {})
    folder, _, name = docname.rpartition("/")
    boxes = [_chapter_box(docname, chapters[docname])] if docname in chapters else []
    if docname in pages:
        lesson, kind = docname, "chapter"
    elif folder in GENERATED_FOLDERS and name in pages:
        lesson, kind = name, folder
    else:
        lesson = None
    if lesson is not None:
        links = dict(pages[lesson], solution=app.config.tfclinic_with_solutions)
        boxes.append(_link_box(docname, lesson, links, kind))
    section = next(iter(doctree.findall(nodes.section)), None)
    for box in reversed(boxes):
        if section is not None and section.children and isinstance(section[0], nodes.title):
            section.insert(1, box)
        else:
            doctree.insert(0, box)


class LinkButtons(SphinxPostTransform):
    """Once cross-references are resolved, style every link of the box as a button."""

    default_priority = 20  # after ReferencesResolver (10)
    formats = ("html",)

    def run(self, **kwargs):
        for box in self.document.findall(nodes.container):
            if LINKS_CLASS not in box["classes"]:
                continue
            for link in box.findall(nodes.reference):
                if "tfclinic-button" not in link["classes"]:
                    _button(link, BUTTON_CLASSES)


class LessonTimetable(SphinxDirective):
    """``{lesson-timetable}``: the workshop plan of every lesson in ``_toc.yml``, measured
    from the chapters and exercise notebooks (see :func:`tfclinic.course.workshop.lesson_plan`).

    With ``:track: NAME`` (a track of :data:`tfclinic.course.workshop.TRACKS`) it is instead the
    minute-by-minute plan of that track, from the same measurements
    (:func:`tfclinic.course.workshop.track_plan`); a track that names an unknown lesson or runs past
    its budget is a build error.

    The page is read again whenever ``_toc.yml``, a chapter or an exercise notebook changes.
    """

    has_content = False
    option_spec = {"track": directives.unchanged_required}
    HEADER = ["lesson", "chapter", "walk-through", "functions to repair", "points", "exercise",
              "total"]
    TRACK_HEADER = ["clock", "minutes", "segment", "lesson", "what happens"]

    def run(self):
        from .book import lesson_chapters
        from .workshop import lesson_plan

        root = Path(self.env.srcdir).parent
        names = lesson_chapters(root)
        for path in [root / "book" / "_toc.yml",
                     *(root / "book" / f"{name}.md" for name in names),
                     *(exercise_notebook(root, name) for name in names)]:
            self.env.note_dependency(str(path))
        if "track" in self.options:
            return self._track(root, names, self.options["track"])
        plan = lesson_plan(root, names)
        rows = [[nodes.literal(text=row.lesson), row.title, f"{row.walkthrough_minutes} min",
                 f"{row.functions}", f"{row.points:g}", f"{row.exercise_minutes} min",
                 f"{row.minutes} min"] for row in plan]
        total = sum(row.minutes for row in plan)
        rows.append(["", nodes.strong(text="all lessons"), "", "", "", "",
                     nodes.strong(text=f"{total} min ({total / 60:.1f} h)")])
        return [_table(self.HEADER, rows)]

    def _track(self, root, names, name):
        from ..errors import TfclinicError
        from .workshop import TRACKS, track_plan

        if name not in TRACKS:
            raise self.error(f"unknown track {name!r}; known: {', '.join(sorted(TRACKS))}")
        try:
            plan = track_plan(root, TRACKS[name], names)
        except TfclinicError as error:
            raise self.error(str(error)) from None
        rows = [[segment.clock, f"{segment.minutes} min", segment.kind,
                 nodes.literal(text=segment.lesson) if segment.lesson else "", segment.what]
                for segment in plan]
        end = plan[-1].start + plan[-1].minutes
        rows.append([f"{end // 60}:{end % 60:02d}", nodes.strong(text=f"{end} min"),
                     nodes.strong(text="end"), "", ""])
        return [_table(self.TRACK_HEADER, rows, classes=["tfclinic-track"])]


class WrongFixes(SphinxDirective):
    """``{wrong-fixes}``: per exercise of the book, the three wrong fixes of the graders' corpus
    (:mod:`tfclinic.grading.wrong_fixes`) marked most common, with the functions they change."""

    has_content = False
    HEADER = ["exercise", "", "function", "wrong fix", "what it gets wrong"]

    def run(self):
        import ast

        from ..grading import wrong_fixes
        from .book import lesson_chapters

        root = Path(self.env.srcdir).parent
        self.env.note_dependency(str(root / "book" / "_toc.yml"))
        self.env.note_dependency(wrong_fixes.__file__)
        rows = []
        for lesson in lesson_chapters(root):
            try:
                common = wrong_fixes.most_common(lesson)
            except KeyError:
                raise self.error(f"the corpus of wrong fixes has no lesson {lesson!r}") from None
            for fix in common:
                functions = [node.name for node in ast.parse(fix.source).body
                             if isinstance(node, ast.FunctionDef)]
                rows.append([nodes.literal(text=lesson) if fix.common == 1 else "",
                             f"{fix.common}", nodes.literal(text=", ".join(functions)),
                             nodes.literal(text=fix.name), fix.mistake])
        return [_table(self.HEADER, rows, classes=["tfclinic-wrong-fixes"])]


def _table(header, rows, classes=("tfclinic-timetable",)):
    """A docutils table; cells are text or inline nodes."""
    def row_node(cells):
        row = nodes.row()
        for cell in cells:
            paragraph = nodes.paragraph()
            paragraph += cell if isinstance(cell, nodes.Node) else nodes.Text(cell)
            row += nodes.entry("", paragraph)
        return row

    group = nodes.tgroup(cols=len(header))
    group += [nodes.colspec(colwidth=1) for _ in header]
    group += nodes.thead("", row_node(header))
    group += nodes.tbody("", *(row_node(cells) for cells in rows))
    return nodes.table("", group, classes=list(classes))


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    """``html-page-context``: keep one copy of each inline script.

    sphinx-thebe and sphinx-togglebutton register their configuration scripts twice under
    Sphinx 7 (once with ``filename=None``, once with ``""``), and the second
    ``const THEBE_JS_URL`` is a console error on every page.
    """
    scripts, seen = [], set()
    for script in context.get("script_files", []):
        filename = getattr(script, "filename", script) or ""  # None and "" both mean inline
        key = (str(filename), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            scripts.append(script)
    context["script_files"] = scripts


def _mathjax_folder():
    """The MathJax 3 files of the installed sphinx-mathjax-offline package, or ``None``."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("sphinx-mathjax-offline")
    except PackageNotFoundError:
        return None
    script = next((f for f in dist.files or [] if f.as_posix().endswith("/mathjax/tex-chtml.js")), None)
    return Path(dist.locate_file(script)).parent if script is not None else None


def _copy_mathjax(app, exception):
    """``build-finished``: copy the MathJax parts the pages load into ``_static/mathjax``."""
    folder = _mathjax_folder()
    if exception is not None or folder is None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        source = folder / part
        if source.is_dir():
            shutil.copytree(source, target / part, dirs_exist_ok=True)
        elif source.is_file():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)


def setup(app):
    """Register the extension with Sphinx."""
    app.add_config_value("tfclinic_with_solutions", False, "env", [bool])
    app.connect("config-inited", _lesson_pages, priority=950)  # sphinx-external-toc uses 900
    app.connect("doctree-read", _insert_links, priority=400)  # download collector uses 500
    app.add_post_transform(LinkButtons)
    app.add_directive("lesson-timetable", LessonTimetable)
    app.add_directive("wrong-fixes", WrongFixes)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=999)  # after all others
    app.connect("build-finished", _copy_mathjax)
    return {"version": "1", "env_version": 4, "parallel_read_safe": True,
            "parallel_write_safe": True}
