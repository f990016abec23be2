"""What the checkup costs: its overhead over a plain run, on the corpus of tests/checkup_corpus/.

Every third program runs three ways in this one process: plainly, under `tfclinic checkup`
and under `tfclinic checkup --deep`; the medians of the differences are the overheads.
Target: the deep checkup adds under 2 s per program at the median (the time-capped deep
trial dominates it). The verdicts themselves (diagnosis, false alarms) are proved by
tests/test_checkup_corpus.py, whose runner this script reuses.

    python benchmarks/checkup.py        # table and overheads; exit 1 when the target is missed
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import test_checkup_corpus as corpus  # noqa: E402 - the runner of the corpus test

TARGET_DEEP_OVERHEAD_S = 2.0
EVERY = 3


def main():
    paths = sorted(corpus.CORPUS.glob("*.py"))
    print(f"{len(paths)} programs, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
          flush=True)
    corpus.run_plain(paths[-1])  # first-call costs (imports, kernels) fall outside the timings
    rows = corpus.run_corpus(paths, static_every=EVERY, plain_every=EVERY)
    print(corpus.table(rows, corpus.summarise(rows)))
    measured = corpus.overheads(rows)
    if not measured["timed"]:
        print("benchmark: no program ran every way", file=sys.stderr)
        return 2
    deep = measured["median_deep_overhead_s"]
    print(f"median overhead over {measured['timed']} programs that train: static "
          f"{measured['median_static_overhead_s']:.2f} s, deep {deep:.2f} s "
          f"(target < {TARGET_DEEP_OVERHEAD_S} s); load average {os.getloadavg()[0]:.1f}")
    return 0 if deep < TARGET_DEEP_OVERHEAD_S else 1


if __name__ == "__main__":
    sys.exit(main())
