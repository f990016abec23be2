"""`tfclinic collect`: Canvas, Moodle and plain-folder submissions into the grading layout."""

import csv
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lms_archives import at, canvas_name, moodle_name, notebook_bytes, write_zip
from lesson_variants import ROOT, exercise, solution
from tfclinic.course.collect import collect, slug, student_name_problem
from tfclinic.course.course_settings import CourseSettings, load_settings, read_timestamp
from tfclinic.errors import TfclinicError

TFCLINIC = str(Path(sys.executable).with_name("tfclinic"))
SHAPES = notebook_bytes(solution("shapes"))
DTYPES = notebook_bytes(exercise("dtypes"))


def run(*args):
    return subprocess.run([TFCLINIC, *map(str, args)], capture_output=True, text=True, timeout=120)


def tree(folder):
    """Every file under ``folder`` with its bytes, to prove nothing changed."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def canvas_archive(path):
    """A Canvas download: on time, late, a resubmitted file name, a duplicate, a non-notebook,
    a notebook whose name gives no lesson (found by its cells), and a path that escapes."""
    return write_zip(path, [
        (canvas_name("lovelaceada", 101, "shapes.ipynb"), SHAPES, at("2026-12-07 10:00")),
        (canvas_name("hoppergrace", 102, "shapes-1.ipynb", late=True), SHAPES, at("2026-12-09 12:00")),
        (canvas_name("turingalan", 103, "shapes.ipynb"), SHAPES, at("2026-12-07 11:00")),
        (canvas_name("turingalan", 103, "shapes-2.ipynb"), SHAPES, at("2026-12-07 11:05")),
        (canvas_name("knuthdon", 104, "report.pdf"), b"%PDF-1.4", at("2026-12-07 12:00")),
        (canvas_name("liskovbarbara", 105, "my_work.ipynb"), DTYPES, at("2026-12-07 13:00")),
        ("../../etc/shapes.ipynb", SHAPES, at("2026-12-07 14:00")),
    ])


def test_canvas_archive_places_each_student_with_time_and_reports_the_rest(tmp_path):
    into = tmp_path / "submissions"
    done = run("collect", canvas_archive(tmp_path / "canvas.zip"), "--into", into)
    assert done.returncode == 1, done.stderr  # some entries could not be placed
    assert "Traceback" not in done.stderr
    assert "3 placed, 0 replaced, 0 unchanged, 4 not collected (1 marked late by the LMS)" in done.stdout
    problems = [line for line in done.stderr.splitlines() if line.startswith("tfclinic: not collected")]
    assert len(problems) == 4
    assert sum("two notebooks for turingalan/shapes" in line for line in problems) == 2
    assert any("report.pdf" in line and "not a notebook" in line for line in problems)
    assert any("escapes the archive" in line for line in problems)

    assert (into / "lovelaceada" / "shapes" / "shapes.ipynb").read_bytes() == SHAPES
    assert (into / "hoppergrace" / "shapes" / "shapes.ipynb").read_bytes() == SHAPES
    assert (into / "liskovbarbara" / "dtypes" / "dtypes.ipynb").read_bytes() == DTYPES  # by its cells
    assert not (into / "turingalan").exists() and not (into / "knuthdon").exists()
    assert not (tmp_path / "etc").exists()
    assert read_timestamp(into / "hoppergrace" / "shapes") == at("2026-12-09 12:00")

    with open(into / "students.csv", newline="") as handle:
        students = {row["student"]: row for row in csv.DictReader(handle)}
    assert students["lovelaceada"]["lms"] == "canvas" and students["lovelaceada"]["lms_id"] == "101"
    with open(into / "collected.csv", newline="") as handle:
        log = list(csv.DictReader(handle))
    assert len(log) == 7  # every entry, placed or not, is accounted for
    assert {row["action"] for row in log} == {"placed", "refused"}
    assert [row["lms_late"] for row in log if row["student"] == "hoppergrace"] == ["yes"]


@pytest.mark.parametrize("folders", [False, True], ids=["flat", "in-folders"])
def test_moodle_archive_maps_display_names_to_student_ids(tmp_path, folders):
    archive = write_zip(tmp_path / "moodle.zip", [
        (moodle_name("Ada Lovelace", 5001, "shapes.ipynb", folders=folders), SHAPES, at("2026-12-07 09:00")),
        (moodle_name("Seán O'Brien, Jr", 5002, "shapes.ipynb", folders=folders), SHAPES, at("2026-12-07 09:30")),
        (moodle_name("Ada Lovelace", 5003, "shapes.ipynb", folders=folders), SHAPES, at("2026-12-07 09:45")),
        (moodle_name("Grace Hopper", 5004, "onlinetext.html", plugin="onlinetext", folders=folders),
         "<p>see attached</p>", at("2026-12-07 10:00")),
    ])
    into = tmp_path / "submissions"
    result = collect(ROOT, archive, into)
    placed = sorted(p.student for p in result.placed)
    # two different people called Ada Lovelace keep apart by their participant ids
    assert placed == ["ada-lovelace", "ada-lovelace-5003", "sean-obrien-jr"]
    assert [reason for _, reason in result.problems] == ["a Moodle onlinetext answer, not a notebook file"]
    with open(into / "students.csv", newline="") as handle:
        names = {row["student"]: row["name"] for row in csv.DictReader(handle)}
    assert names["sean-obrien-jr"] == "Seán O'Brien, Jr"  # the display name survives, quoted

    # a second assignment's archive maps the same participant to the same folder
    second = write_zip(tmp_path / "moodle-dtypes.zip", [
        (moodle_name("Ada Lovelace", 5003, "dtypes.ipynb", folders=folders), DTYPES, at("2026-12-14 09:00"))])
    again = collect(ROOT, second, into)
    assert [(p.student, p.lesson) for p in again.placed] == [("ada-lovelace-5003", "dtypes")]


def test_plain_folder_students_from_folders_and_file_names(tmp_path):
    source = tmp_path / "downloads"
    (source / "grace" / "shapes").mkdir(parents=True)
    (source / "grace" / "shapes" / "shapes.ipynb").write_bytes(SHAPES)  # a workshop folder
    (source / "ada_shapes.ipynb").write_bytes(SHAPES)
    (source / "dtypes-alan.ipynb").write_bytes(DTYPES)
    (source / "shapes (1).ipynb").write_bytes(SHAPES)  # whose?
    (source / "o'brien,ann_shapes.ipynb").write_bytes(SHAPES)
    (source / "new\nline_shapes.ipynb").write_bytes(SHAPES)
    (source / "notes.txt").write_text("not a notebook")
    stamp = at("2026-12-06 08:00").timestamp()
    os.utime(source / "ada_shapes.ipynb", (stamp, stamp))
    into = tmp_path / "submissions"
    done = run("collect", source, "--into", into)
    assert done.returncode == 1
    placed = sorted(p.relative_to(into).as_posix() for p in into.rglob("*.ipynb"))
    assert placed == ["ada/shapes/shapes.ipynb", "alan/dtypes/dtypes.ipynb", "grace/shapes/shapes.ipynb"]
    assert "does not say whose notebook it is" in done.stderr
    assert "\"o'brien,ann\" cannot be used as a folder name" in done.stderr
    assert "'new\\nline' cannot be used as a folder name" in done.stderr  # shown escaped, on one line
    assert all(line.startswith("tfclinic: not collected") for line in done.stderr.splitlines())
    assert "notes.txt" in done.stderr
    assert read_timestamp(into / "ada" / "shapes") == at("2026-12-06 08:00")  # the file's own time


def test_a_new_collection_never_overwrites_silently(tmp_path):
    into = tmp_path / "submissions"
    first = write_zip(tmp_path / "first.zip", [
        (canvas_name("lovelaceada", 101, "shapes.ipynb"), SHAPES, at("2026-12-07 10:00"))])
    assert run("collect", first, "--into", into).returncode == 0
    same = run("collect", first, "--into", into)
    assert same.returncode == 0 and "0 placed, 0 replaced, 1 unchanged" in same.stdout

    changed = notebook_bytes(exercise("shapes"))
    second = write_zip(tmp_path / "second.zip", [
        (canvas_name("lovelaceada", 101, "shapes.ipynb"), changed, at("2026-12-08 10:00"))])
    before = tree(into / "lovelaceada")
    refused = run("collect", second, "--into", into)
    assert refused.returncode == 1 and "--replace" in refused.stderr
    assert tree(into / "lovelaceada") == before  # the first collection is untouched

    replaced = run("collect", second, "--into", into, "--replace")
    assert replaced.returncode == 0 and "replaced lovelaceada/shapes" in replaced.stdout
    assert (into / "lovelaceada" / "shapes" / "shapes.ipynb").read_bytes() == changed
    kept = list((into / ".history" / "lovelaceada" / "shapes").glob("*.ipynb"))
    assert [p.read_bytes() for p in kept] == [SHAPES]


def test_bad_sources_end_with_one_line_and_status_2(tmp_path):
    into = tmp_path / "submissions"
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(canvas_archive(tmp_path / "whole.zip").read_bytes()[:-200])
    not_zip = tmp_path / "grades.pdf"
    not_zip.write_bytes(b"%PDF-1.4 something")
    bad_settings = tmp_path / "course.toml"
    bad_settings.write_text('[deadlines]\nshapes = "next friday"\n')
    cases = {
        "missing": (["collect", tmp_path / "nowhere.zip", "--into", into], "does not exist"),
        "empty": (["collect", empty, "--into", into], "holds no files"),
        "corrupt": (["collect", corrupt, "--into", into], "corrupt zip"),
        "not a zip": (["collect", not_zip, "--into", into], "neither a folder nor a zip"),
        "unknown lesson": (["collect", tmp_path / "whole.zip", "--into", into, "--lesson", "nope"],
                           "unknown lesson 'nope'"),
        "bad deadline": (["collect", tmp_path / "whole.zip", "--into", into, "--settings", bad_settings],
                         "'next friday' is not a date"),
    }
    for name, (args, expected) in cases.items():
        done = run(*args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (name, done.stderr)
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in done.stderr, (name, lines)
    assert not into.exists()  # nothing was written by any of them


def test_archive_entries_that_are_links_or_too_large_are_refused(tmp_path):
    archive = tmp_path / "odd.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        link = zipfile.ZipInfo(canvas_name("lovelaceada", 101, "shapes.ipynb"))
        link.external_attr = (0o120777 << 16)  # a symbolic link to the answer key
        handle.writestr(link, "../../solutions/shapes/shapes.ipynb")
        handle.writestr(canvas_name("hoppergrace", 102, "shapes.ipynb"), b" " * (21 * 1024 * 1024))
    result = collect(ROOT, archive, tmp_path / "submissions")
    reasons = sorted(reason for _, reason in result.problems)
    assert len(reasons) == 2 and not result.placed
    assert "symbolic link" in reasons[1] and "MB" in reasons[0]


def test_dos_times_are_read_in_the_course_time_zone(tmp_path):
    archive = write_zip(tmp_path / "dos.zip", [
        (canvas_name("lovelaceada", 101, "shapes.ipynb"), SHAPES, at("2026-12-07 10:00"))],
        extended_time=False)
    settings_file = tmp_path / "course.toml"
    settings_file.write_text('timezone = "Europe/Berlin"\n')
    settings = load_settings(settings_file, ["shapes"])
    collect(ROOT, archive, tmp_path / "submissions", settings=settings)
    # 10:00 on the archive's clock in Berlin (UTC+1 in December) is 09:00 UTC
    assert read_timestamp(tmp_path / "submissions" / "lovelaceada" / "shapes") == at("2026-12-07 09:00")


def test_student_names_and_slugs():
    assert student_name_problem("ada") is None and student_name_problem("grace.hopper@uni") is None
    for bad in ["o'brien", "a,b", "line\nbreak", "-dash", "", "=cmd", "x" * 65, "two words"]:
        assert student_name_problem(bad), bad
    assert slug("Seán O'Brien, Jr") == "sean-obrien-jr"
    assert slug("=HYPERLINK(\"x\")") == "hyperlink-x"
    assert slug("王小明") == ""  # no ASCII letters: collect then uses student-<id>


def test_collect_into_a_file_or_onto_itself_is_refused(tmp_path):
    archive = canvas_archive(tmp_path / "canvas.zip")
    with pytest.raises(TfclinicError, match="is a file"):
        collect(ROOT, archive, archive)
    with pytest.raises(TfclinicError, match="same folder"):
        collect(ROOT, tmp_path, tmp_path, settings=CourseSettings())
