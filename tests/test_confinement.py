"""The student process's confinement, proved by the attack cases of ``confinement_cases.py``.

The cases fork student processes from the process that runs them, as the grader's runner
does. A process that has run TensorFlow cannot fork one that works (TensorFlow's thread pools
do not survive a fork, and the child's first operation waits for them forever), and other
test modules run TensorFlow in the pytest workers. So the cases run here in a fresh
interpreter, a pytest of their own, and this test passes when every case passed.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the layers are Linux's")]


def test_every_confinement_case_holds_in_a_fresh_interpreter():
    tests = Path(__file__).parent
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-n", "0", "-p", "no:cacheprovider",
                           str(tests / "confinement_cases.py")],
                          cwd=tests, capture_output=True, text=True, timeout=1200)
    print(done.stdout[-8000:])
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed and int(passed.group(1)) >= 12, done.stdout[-2000:]
