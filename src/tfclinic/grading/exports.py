"""Grades in the shape an LMS imports: one row per student, one column per lesson, a total.

``grades.csv`` has one row per submission; instructors import gradebooks with one row per
student. Three exports, written by ``tfclinic grade --export``:

- ``canvas`` (``grades-canvas.csv``): Canvas's gradebook CSV. Its first five columns are the
  ones Canvas's own export starts with and its import matches students on (``Student``,
  ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``), then a ``Points Possible`` row,
  one column per lesson (named as ``[lms.canvas]`` in the course settings says, e.g.
  ``Shapes (123456)`` to update an existing assignment; a new name makes Canvas offer to
  create the assignment) and ``Final Points``, a read-only column Canvas ignores on import.
  ``ID`` is the Canvas user id ``tfclinic collect`` read from the archive.
- ``moodle`` (``grades-moodle.csv``): for *Grades > Import > CSV file*. Moodle lets the
  instructor map a column to a user field, so the file carries every identifier it can:
  ``Identifier`` (``Participant <id>``, as in Moodle's grading worksheet), ``Full name``,
  ``Email address`` and ``ID number`` (from ``students.csv``), one column per lesson and
  ``Course total``.
- ``wide`` (``grades-wide.csv``): ``student``, ``name``, one column per lesson, ``total``,
  ``max_total``, for any spreadsheet.

A lesson the student did not hand in is empty (the LMS keeps what it has); one that could not
be graded for a reason on the grading machine's side (status ``not graded``) is empty too,
never a false zero. Every text cell goes through ``spreadsheet_safe``, so a name such as
``=HYPERLINK(...)`` reaches the spreadsheet as text, not as a formula.
"""

import csv

from ..errors import TfclinicError

FORMATS = ("canvas", "moodle", "wide")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
_NOT_SCORED = "not graded"  # grading.FAILED: the grader failed, not the student


def printable(text):
    """``text`` with every character that is not printable escaped as Python writes it.

    Text that student code can shape (folder names, messages from its runner) goes to the
    instructor's terminal and files: an escape sequence or a newline in it must not move the
    cursor, recolour the screen or forge a line.

    Example:
        >>> printable("ada\\x1b[2Jx\\n")
        'ada\\\\x1b[2Jx\\\\n'
    """
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(text))


def spreadsheet_safe(value):
    """Text a spreadsheet shows as text, on one line: one that starts like a formula gets a
    leading ``'``; whitespace runs become one space and other control characters are escaped
    (``printable``).

    Example:
        >>> spreadsheet_safe("=1+1"), spreadsheet_safe("ada")
        ("'=1+1", 'ada')
    """
    text = printable(" ".join(str(value).split())) if value is not None else ""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def parse_formats(text):
    """``"canvas,wide"`` -> ``["canvas", "wide"]``.

    Raises:
        TfclinicError: for a format that is not one of ``FORMATS``.
    """
    formats = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise TfclinicError(f"--export {text!r}: choose from {', '.join(FORMATS)} (comma-separated).")
    return formats


def write_exports(formats, grades, out, students=None, columns=None):
    """Write ``OUT/grades-<format>.csv`` for each format; returns the paths and the warnings.

    Args:
        formats: names from ``FORMATS``.
        grades: the ``tfclinic.grading.grade.Grade`` rows of a run.
        out: the grading folder.
        students: ``{student: row of students.csv}``, the identities ``collect`` recorded.
        columns: ``{"canvas": {lesson: header}, "moodle": {...}}`` from the course settings.
    """
    students, columns = students or {}, columns or {}
    lessons = sorted({g.lesson for g in grades})
    table = _by_student(grades)
    max_scores = {g.lesson: g.max_score for g in grades}
    paths, warnings = [], []
    for name in formats:
        header, rows = _WRITERS[name](table, lessons, max_scores, students, columns.get(name, {}))
        path = out / f"grades-{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([spreadsheet_safe(cell) for cell in header])
            for row in rows:
                writer.writerow([f"{cell:g}" if isinstance(cell, (int, float)) else spreadsheet_safe(cell)
                                 for cell in row])
        paths.append(path)
        unmatched = [s for s in table if not _identity(name, students.get(s, {}))]
        if unmatched and name != "wide":
            warnings.append(f"{path.name}: {len(unmatched)} of {len(table)} students have no "
                            f"{'Canvas ID or SIS ID' if name == 'canvas' else 'Moodle identifier'} "
                            f"(e.g. {unmatched[0]}); the LMS cannot match their rows: add them to "
                            "SUBMISSIONS/students.csv")
    return paths, warnings


def _by_student(grades):
    table = {}
    for grade in grades:
        table.setdefault(grade.student, {})[grade.lesson] = grade
    return dict(sorted(table.items()))


def _score(grade):
    if grade is None or grade.status == _NOT_SCORED:
        return ""
    return round(grade.score, 2)


def _total(marks):
    return round(sum(grade.score for grade in marks.values() if grade.status != _NOT_SCORED), 2)


def _identity(system, row):
    if system == "canvas":
        return (row.get("lms") == "canvas" and row.get("lms_id")) or row.get("sis_id")
    return (row.get("lms") == "moodle" and row.get("lms_id")) or row.get("email") or row.get("sis_id")


def _canvas(table, lessons, max_scores, students, names):
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
              *[names.get(lesson, lesson) for lesson in lessons], "Final Points"]
    rows = [["Points Possible", "", "", "", "", *[max_scores[lesson] for lesson in lessons],
             round(sum(max_scores.values()), 2)]]
    for student, marks in table.items():
        info = students.get(student, {})
        canvas_id = info.get("lms_id", "") if info.get("lms") == "canvas" else ""
        rows.append([info.get("name") or student, canvas_id, info.get("sis_id", ""), "", "", *[_score(marks.get(lesson)) for lesson in lessons],
                     _total(marks)])
    return header, rows


def _moodle(table, lessons, max_scores, students, names):
    header = ["Identifier", "Full name", "Email address", "ID number",
              *[names.get(lesson, lesson) for lesson in lessons], "Course total"]
    rows = []
    for student, marks in table.items():
        info = students.get(student, {})
        participant = f"Participant {info['lms_id']}" if info.get("lms") == "moodle" else ""
        rows.append([participant, info.get("name") or student, info.get("email", ""),
                     info.get("sis_id", ""), *[_score(marks.get(lesson)) for lesson in lessons],
                     _total(marks)])
    return header, rows


def _wide(table, lessons, max_scores, students, names):
    header = ["student", "name", *lessons, "total", "max_total"]
    rows = [[student, students.get(student, {}).get("name", ""),
             *[_score(marks.get(lesson)) for lesson in lessons], _total(marks),
             round(sum(max_scores.values()), 2)] for student, marks in table.items()]
    return header, rows


_WRITERS = {"canvas": _canvas, "moodle": _moodle, "wide": _wide}
