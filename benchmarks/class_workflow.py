"""A synthetic class end to end: LMS archives -> collect -> grade -> exports and debrief.

Builds a Canvas archive for ``shapes`` and a Moodle archive for ``dtypes`` for ``--students``
students (default 40): most hand in the solution, some the untouched exercise, some a wrong
fix from the graders' corpus (``tfclinic.wrong_fixes``); every seventh is late by one to four
days; the Canvas archive also holds a student with two notebooks, a PDF and a notebook that
names no lesson. Then it runs the instructor's commands, prints each with its output and
time, and leaves everything in ``--workdir``.

    .venv/bin/python benchmarks/class_workflow.py --students 40 --jobs 2
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
from tfclinic.wrong_fixes import wrong_fixes  # noqa: E402

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


def build(workdir, students):
    names = [f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}" for i in range(students)]
    canvas, moodle = [], []
    for index, name in enumerate(names):
        first, last = name.split(" ", 1)
        sortable = "".join(c for c in (last + first).lower() if c.isalnum())
        _, shapes = variant("shapes", index)
        _, dtypes = variant("dtypes", index)
        when = submitted("shapes", index)
        canvas.append((canvas_name(sortable, 1000 + index, "shapes.ipynb", late=when > DEADLINES["shapes"]),
                       notebook_bytes(shapes), when))
        moodle.append((moodle_name(name, 5000 + index, "dtypes.ipynb", folders=True),
                       notebook_bytes(dtypes), submitted("dtypes", index)))
    solution = notebook_bytes(nbformat.read(solution_notebook(ROOT, "shapes"), as_version=4))
    anonymous = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")])
    when = DEADLINES["shapes"] - timedelta(hours=1)
    canvas += [(canvas_name("twicesubmitted", 1900, "shapes.ipynb"), solution, when),
               (canvas_name("twicesubmitted", 1900, "shapes-1.ipynb"), solution, when),
               (canvas_name("pdfsender", 1901, "shapes.pdf"), b"%PDF-1.4", when),
               (canvas_name("nolesson", 1902, "homework.ipynb"), notebook_bytes(anonymous), when)]
    write_zip(workdir / "canvas-shapes.zip", canvas)
    write_zip(workdir / "moodle-dtypes.zip", moodle)
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
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tfclinic-class-"))
    shutil.rmtree(workdir / "SUBMISSIONS", ignore_errors=True)
    shutil.rmtree(workdir / "graded", ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    build(workdir, args.students)
    tfclinic = str(Path(sys.executable).with_name("tfclinic"))
    start = time.perf_counter()
    for archive in ("canvas-shapes.zip", "moodle-dtypes.zip"):
        command([tfclinic, "collect", archive, "--into", "SUBMISSIONS", "--settings", "course.toml"], workdir)
    command([tfclinic, "grade", "SUBMISSIONS", "--out", "graded", "--settings", "course.toml",
             "--export", "canvas,moodle,wide", "--jobs", str(args.jobs)], workdir)
    print(f"\nwhole workflow: {time.perf_counter() - start:.1f} s; files in {workdir}")
    for name in ("grades-canvas.csv", "grades-moodle.csv", "grades-wide.csv"):
        lines = (workdir / "graded" / name).read_text(encoding="utf-8").splitlines()
        print(f"\n{name}: {len(lines)} lines")
        print("\n".join(lines[:4]))


if __name__ == "__main__":
    main()
