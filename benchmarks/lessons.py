"""CPU seconds of each lesson's solution, run top to bottom as `tfclinic validate` runs it.

The course's target is under 20 s of kernel CPU per solution (visible and hidden tests
included), so a student never waits long for a notebook. CPU time is counted, not wall
time, because other work on the machine barely changes it; but it still depends on the
machine's speed, so the same run also times a *reference fit* (a 8-16-1 classifier trained
for 240 steps of 32 rows, the size of one lesson cell) in a fresh process. The ratio of a
lesson to that fit is what compares across machines; the seconds are what a student waits.

    python benchmarks/lessons.py              # every lesson; exit 1 when one misses 20 s
    python benchmarks/lessons.py losses       # only the lessons named
"""

import argparse
import os
import resource
import subprocess
import sys
import time

from tfclinic.project import lessons, project_root, solution_notebook
from tfclinic.validate import validate

TARGET_CPU_SECONDS = 20

REFERENCE_FIT = """
import os, resource
os.environ.update(TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")
import keras, numpy as np
keras.utils.set_random_seed(0)
x = np.random.default_rng(0).random((512, 8), dtype="float32")
y = (x[:, 0] > 0.5).astype("float32")
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
best = float("inf")
for _ in range(3):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    before = cpu()
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    best = min(best, cpu() - before)
print(best)
"""


def reference_fit_seconds():
    """CPU seconds of the reference fit on this machine (the fastest of three)."""
    done = subprocess.run([sys.executable, "-c", REFERENCE_FIT], capture_output=True, text=True,
                          check=True)
    return float(done.stdout.split()[-1])


def _children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def solution_cpu_seconds(project, lesson):
    """``(cpu, wall, failures)`` for one validate run of the lesson's solution."""
    cpu_before, start = _children_cpu_seconds(), time.perf_counter()
    results, stopped = validate(solution_notebook(project, lesson))
    wall, cpu = time.perf_counter() - start, _children_cpu_seconds() - cpu_before
    failures = [f"{r.grade_id}: {r.message.splitlines()[-1] if r.message else 'failed'}"
                for r in results if not r.passed]
    return cpu, wall, ([f"stopped: {stopped}"] if stopped else []) + failures


def main(argv=None):
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("lessons", nargs="*", help="lessons to time (default: all)")
    args = options.parse_args(argv)
    project = project_root()
    chosen = args.lessons or lessons(project)
    unknown = sorted(set(chosen) - set(lessons(project)))
    if unknown:
        print(f"benchmark: unknown lesson {', '.join(unknown)}; the course has "
              f"{', '.join(lessons(project))}", file=sys.stderr)
        return 2
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    reference = reference_fit_seconds()
    print(f"reference fit (240 steps of an 8-16-1 classifier): {reference:.2f} s CPU", flush=True)
    missed = []
    for lesson in chosen:
        cpu, wall, failures = solution_cpu_seconds(project, lesson)
        passed = not failures
        verdict = "ok" if passed and cpu < TARGET_CPU_SECONDS else "MISSED"
        if verdict != "ok":
            missed.append(lesson)
        print(f"{lesson:10s} {cpu:6.1f} s CPU  {wall:6.1f} s wall  {cpu / reference:5.1f} reference "
              f"fits  {'tests pass' if passed else 'TESTS FAIL'}  (target < {TARGET_CPU_SECONDS} s) "
              f"{verdict}", flush=True)
        for failure in failures:
            print(f"    {failure}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} after the runs")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
