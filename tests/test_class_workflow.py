"""A class end to end: LMS archives -> `tfclinic collect` -> `tfclinic grade --export` -> debrief.

One Canvas and one Moodle archive (late, duplicate, misnamed and formula-named entries) are
collected into one SUBMISSIONS folder and graded with a deadline and a late penalty. The
test reads every file an instructor would take away, and opens the debrief page in Chromium
at a desktop and a phone width.
"""

import csv
import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lms_archives import at, canvas_name, moodle_name, notebook_bytes, write_zip
from lesson_variants import exercise, solution
from test_browser import CHROMIUM, CHROMIUM_ARGS, QuietHandler, require_chromium

TFCLINIC = str(Path(sys.executable).with_name("tfclinic"))
SETTINGS = """\
timezone = "UTC"
[deadlines]
shapes = "2026-12-07 18:00"
[late]
policy = "penalty"
per_day = 10
cap = 50
[lms]
canvas.shapes = "Shapes exercise (4242)"
"""


def run(*args):
    return subprocess.run([TFCLINIC, *map(str, args)], capture_output=True, text=True, timeout=900)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Collect both archives and grade them once for every test of this module."""
    root = tmp_path_factory.mktemp("class")
    fixed, broken = notebook_bytes(solution("shapes")), notebook_bytes(exercise("shapes"))
    canvas = write_zip(root / "canvas.zip", [
        (canvas_name("lovelaceada", 101, "shapes.ipynb"), fixed, at("2026-12-07 17:59")),
        (canvas_name("hoppergrace", 102, "shapes-1.ipynb", late=True), fixed, at("2026-12-10 06:00")),
        (canvas_name("turingalan", 103, "shapes.ipynb"), fixed, at("2026-12-06 12:00")),
        (canvas_name("knuthdon", 104, "shapes.ipynb"), broken, at("2026-12-07 12:00")),
        (canvas_name("liskovbarbara", 105, "shapes.ipynb"), fixed, at("2026-12-07 12:00")),
        (canvas_name("liskovbarbara", 105, "shapes-1.ipynb"), broken, at("2026-12-07 12:01")),
        (canvas_name("ritchiedennis", 106, "answers.docx"), b"PK\x03\x04", at("2026-12-07 12:00")),
    ])
    moodle = write_zip(root / "moodle.zip", [
        (moodle_name("Seán O'Brien", 7001, "shapes.ipynb", folders=True), fixed, at("2026-12-07 08:00")),
        (moodle_name("=cmd|' -C calc'!A0", 7002, "shapes.ipynb", folders=True), broken, at("2026-12-07 08:00")),
    ])
    (root / "course.toml").write_text(SETTINGS)
    submissions, out = root / "submissions", root / "graded"
    collected = [run("collect", archive, "--into", submissions, "--settings", root / "course.toml")
                 for archive in (canvas, moodle)]
    graded = run("grade", submissions, "--out", out, "--settings", root / "course.toml",
                 "--export", "canvas,moodle,wide", "--jobs", "2")
    return {"root": root, "submissions": submissions, "out": out, "collected": collected, "graded": graded}


@pytest.mark.slow
def test_collect_reports_what_it_cannot_place(graded):
    canvas, moodle = graded["collected"]
    assert canvas.returncode == 1 and moodle.returncode == 0, canvas.stderr + moodle.stderr
    assert canvas.stderr.count("two notebooks for liskovbarbara/shapes") == 2
    assert "answers.docx" in canvas.stderr
    students = sorted(p.name for p in graded["submissions"].iterdir() if p.is_dir())
    assert students == ["cmd-c-calc-a0", "hoppergrace", "knuthdon", "lovelaceada", "sean-obrien", "turingalan"]


@pytest.mark.slow
def test_grades_csv_has_times_lateness_and_the_penalty(graded):
    done = graded["graded"]
    assert done.returncode == 0, done.stderr
    assert "6 of 6 submissions graded, 1 late" in done.stdout
    rows = {row["student"]: row for row in read_csv(graded["out"] / "grades.csv")}
    assert len(rows) == 6
    late = rows["hoppergrace"]
    # 2 days 12 hours late: three started days at 10% of 10 points
    assert (late["score"], late["penalty"], late["hours_late"], late["submitted"]) == \
        ("7", "3", "60.00", "2026-12-10T06:00:00+00:00")
    assert (rows["lovelaceada"]["score"], rows["lovelaceada"]["hours_late"]) == ("10", "")  # a minute early
    assert rows["knuthdon"]["score"] == "0" and rows["knuthdon"]["penalty"] == "0"
    page = (graded["out"] / "feedback" / "hoppergrace" / "shapes.html").read_text()
    assert "Late submission penalty (Score: -3.0)" in page
    assert "Late submission penalty" not in (graded["out"] / "feedback" / "lovelaceada" / "shapes.html").read_text()


@pytest.mark.slow
def test_exports_have_each_systems_columns_and_identities(graded):
    out = graded["out"]
    canvas = read_csv(out / "grades-canvas.csv")
    assert list(canvas[0]) == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                               "Shapes exercise (4242)", "Final Points"]
    assert canvas[0]["Student"] == "Points Possible" and canvas[0]["Final Points"] == "10"
    by_id = {row["ID"]: row["Shapes exercise (4242)"] for row in canvas[1:] if row["ID"]}
    assert by_id == {"101": "10", "102": "7", "103": "10", "104": "0"}
    moodle = read_csv(out / "grades-moodle.csv")
    assert list(moodle[0]) == ["Identifier", "Full name", "Email address", "ID number", "shapes", "Course total"]
    participants = {row["Identifier"]: (row["Full name"], row["shapes"]) for row in moodle if row["Identifier"]}
    assert participants == {"Participant 7001": ("Seán O'Brien", "10"),
                            "Participant 7002": ("'=cmd|' -C calc'!A0", "0")}  # inert text, not a formula
    wide = read_csv(out / "grades-wide.csv")
    assert len(wide) == 6 and {row["max_total"] for row in wide} == {"10"}
    for path in out.glob("*.csv"):
        assert not re.search(r'(^|,)"?[=+@]', path.read_text(encoding="utf-8"), re.M), path.name


@pytest.mark.slow
def test_debrief_page_counts_passes_failures_and_late_work(graded):
    page = (graded["out"] / "report.html").read_text()
    assert "6 submissions from 6 students in 1 lesson: 6 graded, 0 not graded, 1 late." in page
    cells = re.findall(r"<code>(shapes-[\w-]+)</code></td><td class='num' data-label='points'>2</td>"
                       r"<td class='num' data-label='passed'>(\d+)/(\d+)", page)
    assert len(cells) == 5 and all((p, n) == ("4", "6") for _, p, n in cells)  # 4 fixed, 2 broken
    assert len(re.findall(r"<li>2 &times; <code>", page)) >= 5  # the broken pair's shared failures
    assert "data:image/png;base64," in page and "<script" not in page
    late_rows = re.findall(r"<tr><td data-label='student'>(.*?)</td>.*?'submitted'>(.*?)</td>"
                           r".*?'late by'>(.*?)</td>.*?'penalty'>(.*?)</td></tr>", page.split("id='late'")[1])
    assert late_rows == [("hoppergrace", "2026-12-10 06:00", "2 d 12 h", "3")]


@pytest.mark.slow
def test_a_bad_student_folder_stops_grading_before_anything_is_lost(graded):
    out = graded["out"]
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    submissions = graded["root"] / "with-bad-name"
    shutil.copytree(graded["submissions"], submissions)
    (submissions / "o'brien, ann" / "shapes").mkdir(parents=True)
    shutil.copy(submissions / "lovelaceada" / "shapes" / "shapes.ipynb", submissions / "o'brien, ann" / "shapes")
    done = run("grade", submissions, "--out", out)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "\"o'brien, ann\" cannot be used" in done.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_debrief_page_in_a_browser_at_desktop_and_phone_width(graded, tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    handler = functools.partial(QuietHandler, directory=str(graded["out"]))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    problems = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for width, height in ((1366, 900), (390, 844)):
                context = browser.new_context(viewport={"width": width, "height": height})
                context.route(lambda url: not url.startswith(base),
                              lambda route: (problems.append(f"external request {route.request.url}"),
                                             route.abort()))
                tab = context.new_page()
                tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                tab.on("pageerror", lambda error: problems.append(str(error)))
                assert tab.goto(base + "report.html", wait_until="load").status == 200
                sizes = tab.evaluate("Array.from(document.images, i => [i.naturalWidth, i.clientWidth])")
                assert sizes and all(natural > 0 and 0 < shown <= width for natural, shown in sizes), sizes
                overflow = tab.evaluate("document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth")
                if overflow > 0:
                    problems.append(f"at {width} px the page scrolls sideways by {overflow} px")
                tab.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
                context.close()
            browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert not problems, problems
    assert all((tmp_path / f"report-{w}.png").stat().st_size > 10_000 for w in (1366, 390))
