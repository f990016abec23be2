"""Time a cold `tfclinic book` (empty execution cache) and a warm rebuild with nothing changed.

Both builds go to one temporary output folder, so the checkout's own book/_build is left
alone. Targets on a 2-core machine: cold under 180 s, warm under 20 s.

    python benchmarks/book.py            # prints both timings, exit 1 if one misses its target
    python benchmarks/book.py --keep     # keep the output folder and print where it is
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tfclinic.course.book import build, lesson_chapters
from tfclinic.errors import TfclinicError
from tfclinic.project import project_root

COLD_TARGET_SECONDS = 180
WARM_TARGET_SECONDS = 20


def timed_build(project, output):
    start = time.perf_counter()
    build(project, output=output, echo=False)
    return time.perf_counter() - start


def main(argv=None):
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--keep", action="store_true", help="keep the output folder")
    args = options.parse_args(argv)

    project = project_root()
    output = Path(tempfile.mkdtemp(prefix="tfclinic-book-benchmark-"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(lesson_chapters(project))} lessons, {os.cpu_count()} CPUs, "
          f"load average {load:.1f} before the cold build", flush=True)
    try:
        cold = timed_build(project, output)
        print(f"cold build (empty execution cache): {cold:6.1f} s  (target < {COLD_TARGET_SECONDS} s)",
              flush=True)
        warm = timed_build(project, output)
        print(f"warm rebuild (nothing changed):     {warm:6.1f} s  (target < {WARM_TARGET_SECONDS} s)")
    except TfclinicError as error:
        print(f"benchmark: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"output kept in {output}")
        else:
            shutil.rmtree(output, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} after the builds; other work on the machine slows both")
    return 0 if cold < COLD_TARGET_SECONDS and warm < WARM_TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
