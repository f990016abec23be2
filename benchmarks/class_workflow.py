"""A synthetic class end to end: LMS archives -> collect -> grade -> exports and debrief.

Builds one "download all submissions" archive per lesson (``shapes`` and ``dtypes``) as
``--lms`` (Canvas or Moodle) names its files, for ``--students`` students (default 40): most
hand in the solution, some the untouched exercise, some a wrong fix from the graders' corpus
(``tfclinic.grading.wrong_fixes``); every seventh is late by half a day to three and a half days; the
shapes archive also holds a student with two notebooks, a PDF and a notebook that names no
lesson. Then it runs the instructor's commands, prints each with its output and time, and
leaves everything in ``--workdir``.

    .venv/bin/python benchmarks/class_workflow.py --lms canvas --students 40 --jobs 2
"""

import argparse
import copy
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from lms_archives import canvas_name, moodle_name, notebook_bytes, write_zip  # noqa: E402
from tfclinic.project import exercise_notebook, solution_notebook  # noqa: E402
from tfclinic.grading.wrong_fixes import wrong_fixes  # noqa: E402

FIRST = ["Ada", "Grace", "Alan", "Barbara", "Donald", "Edsger", "Frances", "John", "Karen", "Leslie",
         "Margaret", "Niklaus", "Radia", "Seán", "Tim", "Yukihiro", "Zoë", "Ken", "Hedy", "Fei-Fei"]
LAST = ["Lovelace", "Hopper", "Turing", "Liskov", "Knuth", "Dijkstra", "Allen", "McCarthy",
        "Spärck Jones", "Lamport", "Hamilton", "Wirth", "Perlman", "O'Brien", "Berners-Lee",
        "Matsumoto", "Ng", "Thompson", "Lamarr", "Li"]
DEADLINES = {"shapes": datetime(2026, 12, 7, 18, tzinfo=timezone.utc),
             "dtypes": datetime(2026, 12, 14, 18, tzinfo=timezone.utc)}
SETTINGS = """\
timezone = "UTC"
[deadlines]
shapes = "2026-12-07 18:00"
dtypes = "2026-12-14 18:00"
[late]
policy = "penalty"
per_day = 10
cap = 50
cutoff_days = 7
[lms]
canvas.shapes = "Shapes exercise (4242)"
"""


def variant(lesson, index):
    """``(label, notebook)`` of student ``index``: solution, exercise or a wrong fix."""
    fixes = wrong_fixes(lesson)
    if index % 8 == 3:
        return "exercise", nbformat.read(exercise_notebook(ROOT, lesson), as_version=4)
    notebook = nbformat.read(solution_notebook(ROOT, lesson), as_version=4)
    if index % 4 == 1 and fixes:
        fix = fixes[(index // 4) % len(fixes)]
        notebook = copy.deepcopy(notebook)
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == fix.cell:
                cell.source = fix.source
        return f"wrong fix {fix.name}", notebook
    return "solution", notebook


def submitted(lesson, index):
    late_days = (index % 4) + 0.5 if index % 7 == 6 else 0
    return DEADLINES[lesson] + timedelta(days=late_days, hours=-2)


def entry_name(lms, name, index, lesson, file_name, late):
    """The archive entry of student ``index`` as ``lms`` names it."""
    if lms == "moodle":
        return moodle_name(name, 5000 + index, file_name, folders=True)
    first, last = name.split(" ", 1)
    sortable = "".join(c for c in (last + first).lower() if c.isalnum())
    return canvas_name(sortable, 1000 + index, file_name, late=late, submission_id=90000 + 100 * index
                       + len(lesson))


def build(workdir, students, lms):
    """Write ``<lms>-<lesson>.zip`` for each lesson and the course settings."""
    names = [f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}" for i in range(students)]
    for lesson in DEADLINES:
        members = []
        for index, name in enumerate(names):
            when = submitted(lesson, index)
            members.append((entry_name(lms, name, index, lesson, f"{lesson}.ipynb", when > DEADLINES[lesson]),
                            notebook_bytes(variant(lesson, index)[1]), when))
        if lesson == "shapes":
            solution = notebook_bytes(nbformat.read(solution_notebook(ROOT, lesson), as_version=4))
            anonymous = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")])
            when = DEADLINES[lesson] - timedelta(hours=1)
            members += [(entry_name(lms, "Twice Submitted", 900, lesson, "shapes.ipynb", False), solution, when),
                        (entry_name(lms, "Twice Submitted", 900, lesson, "shapes-1.ipynb", False), solution, when),
                        (entry_name(lms, "Pdf Sender", 901, lesson, "shapes.pdf", False), b"%PDF-1.4", when),
                        (entry_name(lms, "No Lesson", 902, lesson, "homework.ipynb", False),
                         notebook_bytes(anonymous), when)]
        write_zip(workdir / f"{lms}-{lesson}.zip", members)
    (workdir / "course.toml").write_text(SETTINGS)


def command(args, workdir):
    shown = " ".join(str(a).replace(str(workdir) + "/", "") for a in args)
    print(f"\n$ {shown}", flush=True)
    start = time.perf_counter()
    done = subprocess.run(args, cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = (done.stdout + done.stderr).splitlines()
    progress = [line for line in lines if line.startswith("[")]
    others = [line for line in lines if not line.startswith("[")]
    for line in progress[:3] + (["..."] if len(progress) > 6 else []) + progress[-3:]:
        print(line)
    for line in others:
        print(line)
    print(f"(exit status {done.returncode}, {seconds:.1f} s)")
    return done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lms", choices=("canvas", "moodle"), default="canvas")
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tfclinic-class-"))
    shutil.rmtree(workdir / "SUBMISSIONS", ignore_errors=True)
    shutil.rmtree(workdir / "graded", ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    build(workdir, args.students, args.lms)
    tfclinic = str(Path(sys.executable).with_name("tfclinic"))
    start = time.perf_counter()
    for lesson in DEADLINES:
        command([tfclinic, "collect", f"{args.lms}-{lesson}.zip", "--into", "SUBMISSIONS", "--settings", "course.toml"], workdir)
    command([tfclinic, "grade", "SUBMISSIONS", "--out", "graded", "--settings", "course.toml",
             "--export", f"{args.lms},wide", "--jobs", str(args.jobs)], workdir)
    print(f"\nwhole workflow: {time.perf_counter() - start:.1f} s; files in {workdir}")
    for name in (f"grades-{args.lms}.csv", "grades-wide.csv"):
        lines = (workdir / "graded" / name).read_text(encoding="utf-8").splitlines()
        print(f"\n{name}: {len(lines)} lines")
        print("\n".join(lines[:4]))


if __name__ == "__main__":
    main()
