"""The two-hour track of the instructor guide: its plan, its lessons, and the wrong fixes it
lists from the graders' corpus. The directives are rendered by a small Sphinx project that
reads the real chapters, not by building the book."""

import importlib
import io
import re

import pytest

from lesson_variants import ROOT, solution
from tfclinic.course.book import lesson_chapters
from tfclinic.errors import TfclinicError
from tfclinic.course.workshop import (BREAK_MINUTES, CLOSE_MINUTES, INTRO_MINUTES, MINUTES_TO_CHECK,
                               TRACKS, Track, lesson_plan, track_plan)
from tfclinic.grading.wrong_fixes import CORPUS, as_cell_edits, most_common, wrong_fixes

TWO_HOURS = 120
GUIDE = ROOT / "book" / "instructors.md"


def end(plan):
    return plan[-1].start + plan[-1].minutes


# --- the plan ------------------------------------------------------------------------------

def test_the_two_hour_track_fits_in_two_hours_measured_from_the_real_lessons():
    plan = track_plan(ROOT, "two-hour")
    assert TRACKS["two-hour"].budget_minutes == TWO_HOURS
    assert end(plan) == sum(segment.minutes for segment in plan) <= TWO_HOURS
    assert plan[0].start == 0 and all(segment.minutes > 0 for segment in plan)
    for before, after in zip(plan, plan[1:]):
        assert after.start == before.start + before.minutes, (before, after)
    assert plan[0].clock == "0:00" and plan[1].clock == f"0:{INTRO_MINUTES:02d}"


def test_the_track_lists_only_lessons_of_the_book_in_its_order():
    names = lesson_chapters(ROOT)
    track = TRACKS["two-hour"]
    assert track.lessons and set(track.lessons) <= set(names)
    assert list(track.lessons) == [name for name in names if name in track.lessons]
    plan = track_plan(ROOT, track)
    taught = [segment.lesson for segment in plan if segment.lesson]
    assert list(dict.fromkeys(taught)) == list(track.lessons)
    close = plan[-1]
    assert close.kind == "close"
    assert close.what == "homework: " + ", ".join(n for n in names if n not in track.lessons) \
        + "; how to hand in"


def test_each_lesson_of_the_track_takes_what_the_timetable_gives_it():
    """One set of timing rules: walk-through, exercise and debrief add up to the timetable's row."""
    track = TRACKS["two-hour"]
    plan = track_plan(ROOT, track)
    for row in lesson_plan(ROOT, track.lessons):
        segments = {s.kind: s.minutes for s in plan if s.lesson == row.lesson}
        assert list(segments) == ["walk-through", "exercise", "debrief"]
        assert segments == {"walk-through": row.walkthrough_minutes,
                            "exercise": row.repair_minutes, "debrief": MINUTES_TO_CHECK}
        assert sum(segments.values()) == row.minutes
    kinds = [s.kind for s in plan if not s.lesson]
    assert kinds == ["intro"] + ["break"] * (len(track.lessons) - 1) + ["close"]
    overhead = INTRO_MINUTES + BREAK_MINUTES * (len(track.lessons) - 1) + CLOSE_MINUTES
    assert end(plan) == overhead + sum(row.minutes for row in lesson_plan(ROOT, track.lessons))


@pytest.mark.parametrize("track, message", [
    (Track("all-day", ("shapes", "dtypes", "scaling", "losses", "leakage"), 120),
     "takes .* min, more than its 120 min"),
    (Track("typo", ("shapes", "shape"), 120), "lessons the book does not have: shape"),
    (Track("backwards", ("scaling", "shapes"), 120), "out of the book's order"),
])
def test_a_track_that_does_not_fit_or_names_no_real_lesson_is_refused(track, message):
    with pytest.raises(TfclinicError, match=message):
        track_plan(ROOT, track)


# --- the corpus of wrong fixes -------------------------------------------------------------

@pytest.mark.parametrize("lesson", lesson_chapters(ROOT))
def test_the_lesson_tests_grade_the_corpus_the_guide_lists(lesson):
    """The graders' corpus and the guide's list are one object; whether every fix really earns
    less than full marks is what the lesson tests check (slow, and not repeated here)."""
    module = importlib.import_module(f"test_{lesson}")
    graded = module.WRONG_FIXES
    if lesson == "losses":  # grouped by cell: {part: {name: (grade_id, source)}}
        graded = {name: fix for part in graded.values() for name, fix in part.items()}
    elif lesson == "scaling":  # {name: (score, source)}, every fix edits the pipeline cell
        assert {fix.cell for fix in wrong_fixes(lesson)} == {module.PIPELINE}
        graded = {name: (module.PIPELINE, source) for name, (_, source) in graded.items()}
    assert graded == as_cell_edits(lesson)


@pytest.mark.parametrize("lesson", lesson_chapters(ROOT))
def test_each_exercise_has_three_ranked_wrong_fixes_of_its_own_cells(lesson):
    fixes = wrong_fixes(lesson)
    names = [fix.name for fix in fixes]
    assert len(names) == len(set(names))
    assert [fix.common for fix in most_common(lesson)] == [1, 2, 3]
    solution_cells = {c.metadata["nbgrader"]["grade_id"] for c in solution(lesson).cells
                      if c.metadata.get("nbgrader", {}).get("solution")}
    for fix in fixes:
        assert fix.cell in solution_cells, fix.name
        assert fix.mistake.endswith(".") and len(fix.mistake.split()) >= 5, fix.name
        compile(fix.source, fix.name, "exec")


def test_the_corpus_covers_exactly_the_lessons_of_the_course():
    from tfclinic.project import lessons

    assert sorted(CORPUS) == lessons(ROOT)


# --- the directives, rendered --------------------------------------------------------------

def render(tmp_path, source):
    """The doctree of an ``index.rst`` holding ``source``, built with tfclinic's extension by a
    Sphinx project whose chapters, exercises and solutions are those of this checkout."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    book = tmp_path / "book"
    book.mkdir()
    for name in ["_toc.yml", *(f"{lesson}.md" for lesson in lesson_chapters(ROOT))]:
        (book / name).symlink_to(ROOT / "book" / name)
    for folder in ("exercises", "solutions"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    (book / "conf.py").write_text('extensions = ["tfclinic.course.sphinx_lessons"]\n')
    (book / "index.rst").write_text(f"Guide\n=====\n\n{source}\n")
    warnings = io.StringIO()
    with docutils_namespace():  # directives and nodes registered here are dropped afterwards
        app = Sphinx(str(book), str(book), str(tmp_path / "out"), str(tmp_path / "doctrees"),
                     "dummy", status=None, warning=warnings, freshenv=True)
        app.build()
        return app.env.get_doctree("index"), warnings.getvalue()


def rows(doctree, table_class):
    from docutils import nodes

    tables = [table for table in doctree.findall(nodes.table) if table_class in table["classes"]]
    assert len(tables) == 1, f"{len(tables)} tables of class {table_class}"
    return [[entry.astext().replace("\u2019", "'") for entry in row.findall(nodes.entry)]
            for row in tables[0].findall(nodes.row)]  # Sphinx's smart quotes undone


def test_the_track_directive_renders_the_plan_with_clock_offsets(tmp_path):
    doctree, warnings = render(tmp_path, ".. lesson-timetable::\n   :track: two-hour\n\n"
                                         ".. lesson-timetable::\n")
    assert "ERROR" not in warnings and "WARNING" not in warnings, warnings
    header, *body, last = rows(doctree, "tfclinic-track")
    assert header == ["clock", "minutes", "segment", "lesson", "what happens"]
    plan = track_plan(ROOT, "two-hour")
    assert [row[:4] for row in body] == [[s.clock, f"{s.minutes} min", s.kind, s.lesson]
                                         for s in plan]
    assert all(re.fullmatch(r"\d:\d\d", row[0]) for row in body)
    total = end(plan)
    assert last[:3] == [f"{total // 60}:{total % 60:02d}", f"{total} min", "end"]
    assert total <= TWO_HOURS
    # the full timetable is still the page's tfclinic-timetable, unchanged by the option
    assert [row[0] for row in rows(doctree, "tfclinic-timetable")[1:-1]] == lesson_chapters(ROOT)


def test_an_unknown_track_is_an_error_of_the_build(tmp_path):
    _, warnings = render(tmp_path, ".. lesson-timetable::\n   :track: one-hour\n")
    assert "unknown track 'one-hour'; known: two-hour" in warnings


def test_the_wrong_fixes_directive_lists_three_per_exercise_from_the_corpus(tmp_path):
    doctree, warnings = render(tmp_path, ".. wrong-fixes::\n")
    assert "ERROR" not in warnings and "WARNING" not in warnings, warnings
    header, *body = rows(doctree, "tfclinic-wrong-fixes")
    assert header == ["exercise", "", "function", "wrong fix", "what it gets wrong"]
    expected = []
    for lesson in lesson_chapters(ROOT):
        for fix in most_common(lesson):
            expected.append([lesson if fix.common == 1 else "", str(fix.common), fix.name,
                             fix.mistake])
    assert [[row[0], row[1], row[3], row[4]] for row in body] == expected
    shapes_first = next(row for row in body if row[0] == "shapes")
    assert shapes_first[2] == "build_model"  # the function the fix changes, read from its source


# --- the guide -----------------------------------------------------------------------------

def test_the_guide_has_the_track_between_the_workshop_and_release():
    guide = GUIDE.read_text()
    headings = re.findall(r"^## (.+)$", guide, flags=re.MULTILINE)
    workshop = headings.index("A workshop, lesson by lesson")
    assert headings[workshop + 1] == "A two-hour track"
    assert headings.index("Release") > workshop + 1
    section = guide.split("## A two-hour track", 1)[1].split("\n## ", 1)[0]
    assert "```{lesson-timetable}\n:track: two-hour\n```" in section
    assert "```{wrong-fixes}\n```" in section
    for lesson in TRACKS["two-hour"].lessons:
        assert f"**{lesson}**" in section
        assert f"Talking points for the {lesson} lesson:" in section
    names = lesson_chapters(ROOT)
    homework = [name for name in names if name not in TRACKS["two-hour"].lessons]
    assert f"({', '.join(homework)}, in the book's order)" in " ".join(section.split())
