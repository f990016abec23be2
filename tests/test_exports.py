"""LMS exports: one row per student, one column per lesson, a total; nothing a spreadsheet runs."""

import csv

import pytest

from tfclinic.errors import TfclinicError
from tfclinic.grading.exports import parse_formats, spreadsheet_safe, write_exports
from tfclinic.grading.grade import Grade, write_csv

GRADES = [
    Grade("ada", "shapes", 10, 10, "graded"),
    Grade("ada", "dtypes", 7, 10, "graded"),
    Grade("bob", "shapes", 4, 10, "graded", penalty=2),
    Grade("bob", "dtypes", 0, 10, "not graded", "the runner could not start"),
    Grade("cy", "dtypes", 0, 10, "corrupt notebook", "=HYPERLINK(\"http://evil\")"),
]
STUDENTS = {
    "ada": {"student": "ada", "name": "Lovelace, Ada", "lms": "canvas", "lms_id": "101", "email": "", "sis_id": ""},
    "bob": {"student": "bob", "name": "+Bob", "lms": "moodle", "lms_id": "5002", "email": "bob@uni.edu",
            "sis_id": "S2"},
}


def read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_canvas_export_matches_canvas_gradebook_columns(tmp_path):
    paths, warnings = write_exports(["canvas"], GRADES, tmp_path, STUDENTS,
                                    {"canvas": {"shapes": "Shapes exercise (4242)"}})
    rows = read(paths[0])
    assert paths[0].name == "grades-canvas.csv"
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "dtypes",
                       "Shapes exercise (4242)", "Final Points"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10", "10", "20"]
    by_name = {row[0]: row for row in rows[2:]}
    assert by_name["Lovelace, Ada"][1:] == ["101", "", "", "", "7", "10", "17"]
    assert by_name["'+Bob"][1:] == ["", "S2", "", "", "", "4", "4"]  # not graded: empty, never 0
    assert by_name["cy"][5:] == ["0", "", "0"]  # a corrupt notebook scores 0; no shapes: empty
    assert len(warnings) == 1 and "1 of 3 students" in warnings[0]  # cy has no Canvas identity


def test_moodle_and_wide_exports(tmp_path):
    paths, _ = write_exports(["moodle", "wide"], GRADES, tmp_path, STUDENTS)
    moodle, wide = (read(p) for p in paths)
    assert moodle[0] == ["Identifier", "Full name", "Email address", "ID number", "dtypes", "shapes",
                         "Course total"]
    assert moodle[2] == ["Participant 5002", "'+Bob", "bob@uni.edu", "S2", "", "4", "4"]
    assert wide[0] == ["student", "name", "dtypes", "shapes", "total", "max_total"]
    assert wide[1] == ["ada", "Lovelace, Ada", "7", "10", "17", "20"]
    assert len(wide) == 4  # one row per student


def test_nothing_in_any_csv_starts_like_a_formula(tmp_path):
    write_csv(GRADES, tmp_path / "grades.csv")
    write_exports(["canvas", "moodle", "wide"], GRADES, tmp_path, STUDENTS)
    for path in tmp_path.glob("*.csv"):
        for row in read(path):
            for cell in row:
                assert not cell.startswith(("=", "+", "@", "\t")), (path.name, cell)
                assert not (cell.startswith("-") and not cell.lstrip("-").replace(".", "").isdigit())
    rows = read(tmp_path / "grades.csv")
    assert rows[0] == ["student", "lesson", "score", "max_score", "status", "submitted", "hours_late",
                       "penalty", "message"]
    assert rows[3][7] == "2"


def test_spreadsheet_safe_and_format_names():
    assert [spreadsheet_safe(v) for v in ["=1+1", "+1", "-x", "@SUM(A1)", "\tx", "ada", "a\nb"]] == \
        ["'=1+1", "'+1", "'-x", "'@SUM(A1)", "x", "ada", "a b"]
    assert parse_formats("canvas, wide") == ["canvas", "wide"]
    with pytest.raises(TfclinicError, match="choose from canvas, moodle, wide"):
        parse_formats("blackboard")
