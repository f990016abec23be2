"""Time `tfclinic grade` with 1 and 2 jobs against the floor: the same notebooks run by nbclient.

The class: 20 submissions, 4 per lesson (2 solutions, 2 untouched exercises). The floor runs,
for each submission, what nbgrader's own autograde would run (the source notebook with the
student's solution cells, hidden tests included) in one Jupyter kernel with nbclient, one
after the other, with no isolation and no gradebook. Targets on a 2-core machine: isolation
costs at most 1.5x the floor per submission, and 2 jobs are at least 1.7x faster than 1.

It also reports the CPU seconds of each grading run (the grader and every process below it)
and how many cores that kept busy on average, and splits the speedup into those two parts:
cores kept busy, and CPU seconds spent. One job already keeps more than one core busy, so
the first part alone stays below 2 on a 2-core machine.
The machine itself is noisy, so ``--repeat N`` alternates N runs of each and keeps the
fastest of each.

    python benchmarks/grading.py             # prints the table; exit 1 if a target is missed
    python benchmarks/grading.py --per-lesson 2 --repeat 2
"""

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from tfclinic.grading import grade
from tfclinic.project import exercise_notebook, lessons, project_root, solution_notebook
from tfclinic.runtime import quiet_environment

RATIO_TARGET, SPEEDUP_TARGET = 1.5, 1.7


def make_class(project, folder, per_lesson):
    """Write ``per_lesson`` submissions of every lesson; returns ``[(lesson, path)]``."""
    written = []
    for lesson in lessons(project):
        for index in range(per_lesson):
            kind = solution_notebook if index % 2 == 0 else exercise_notebook
            target = folder / f"student{index:02d}" / lesson / f"{lesson}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kind(project, lesson), target)
            written.append((lesson, target))
    return written


def as_nbgrader_runs_it(project, lesson, submission):
    """The source notebook with the submission's solution cells: what nbgrader executes."""
    source = nbformat.read(solution_notebook(project, lesson), as_version=4)
    student = nbformat.read(submission, as_version=4)
    answers = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in student.cells}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell.source = answers[meta["grade_id"]]
    return source


def floor_seconds(project, submissions):
    """Seconds to execute every submission with nbclient, one kernel each, one at a time."""
    from nbclient import NotebookClient

    os.environ.update(quiet_environment())
    start = time.perf_counter()
    for lesson, path in submissions:
        notebook = as_nbgrader_runs_it(project, lesson, path)
        NotebookClient(notebook, timeout=30, allow_errors=True, kernel_name="python3",
                       extra_arguments=["--Application.log_level=ERROR"],  # no TCP warnings
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def _cpu_seconds():
    """CPU seconds of this process and of every child it has waited for."""
    return sum(getattr(resource.getrusage(who), field) for who in
               (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) for field in ("ru_utime", "ru_stime"))


def grading_run(project, folder, jobs):
    """Grade ``folder`` once; returns ``(wall s, CPU s, total score)``."""
    out = Path(tempfile.mkdtemp(prefix=f"tfclinic-grade-j{jobs}-"))
    cpu, start = _cpu_seconds(), time.perf_counter()
    rows = grade(project, folder, out, jobs=jobs, report=lambda line: None, warn=print)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    shutil.rmtree(out, ignore_errors=True)
    wrong = [r for r in rows if r.status != "graded"]
    if wrong:
        raise SystemExit(f"{len(wrong)} submissions were not graded: {wrong[:2]}")
    return seconds, cpu, sum(r.score for r in rows)


def fastest_runs(project, folder, repeat):
    """``{jobs: (wall s, CPU s, total score)}``, the fastest of ``repeat`` runs with 1 and 2 jobs.

    The runs alternate (1, 2, 1, 2...), so a slow spell of the machine falls on both.
    """
    runs = {1: [], 2: []}
    for _ in range(repeat):
        for jobs in runs:
            runs[jobs].append(grading_run(project, folder, jobs))
    for jobs, each in runs.items():
        if len({score for _, _, score in each}) > 1:
            raise SystemExit(f"repeated runs with {jobs} jobs disagree on the total score: {each}")
    return {jobs: min(each) for jobs, each in runs.items()}


def main(argv=None):
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--per-lesson", type=int, default=4, help="submissions per lesson")
    options.add_argument("--repeat", type=int, default=1,
                         help="grading runs per job count, alternating (the fastest counts)")
    args = options.parse_args(argv)
    project = project_root()
    folder = Path(tempfile.mkdtemp(prefix="tfclinic-class-"))
    try:
        submissions = make_class(project, folder, args.per_lesson)
        count = len(submissions)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"{count} submissions ({args.per_lesson} per lesson), {os.cpu_count()} CPUs, "
              f"load {load:.2f} at the start", flush=True)
        floor = floor_seconds(project, submissions)
        print(f"floor (nbclient, no isolation)  {floor:7.1f} s  {floor / count:5.2f} s/submission", flush=True)
        fastest = fastest_runs(project, folder, args.repeat)
        (one, cpu_one, score_one), (two, cpu_two, score_two) = fastest[1], fastest[2]
        print(f"tfclinic grade --jobs 1         {one:7.1f} s  {one / count:5.2f} s/submission  "
              f"{one / floor:4.2f}x the floor  {cpu_one:5.1f} CPU s  {cpu_one / one:.2f} cores busy",
              flush=True)
        print(f"tfclinic grade --jobs 2         {two:7.1f} s  {two / count:5.2f} s/submission  "
              f"{two / floor:4.2f}x the floor  {cpu_two:5.1f} CPU s  {cpu_two / two:.2f} cores busy",
              flush=True)
        speedup = one / two
        print(f"speedup of 2 jobs over 1: {speedup:.2f}x (target >= {SPEEDUP_TARGET}); "
              f"isolation at 1 job: {one / floor:.2f}x the floor (target <= {RATIO_TARGET})")
        print(f"speedup = {(cpu_two / two) / (cpu_one / one):.2f} (cores busy, 2 jobs over 1) "
              f"x {cpu_one / cpu_two:.2f} (CPU seconds, 1 job over 2)")
        if score_one != score_two:
            print(f"the two runs disagree: total score {score_one} vs {score_two}")
            return 1
        return 0 if speedup >= SPEEDUP_TARGET and one / floor <= RATIO_TARGET else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
