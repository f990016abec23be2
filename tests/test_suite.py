"""The test suite itself: expensive fixtures are shared the way conftest.py says."""

import subprocess
import sys


def test_loadgroup_keeps_each_group_on_one_worker(tmp_path):
    """``--dist loadgroup`` (our addopts) sends a group's tests to one xdist worker.

    The book and the graded classes are session or module fixtures of grouped modules; if
    grouping silently stopped working (as with pytest 9.2), every worker would build them.
    """
    (tmp_path / "test_grouped.py").write_text(
        "import os, pytest\n"
        "pytestmark = pytest.mark.xdist_group('together')\n"
        "@pytest.mark.parametrize('n', range(6))\n"
        "def test_where(n):\n"
        "    print('WORKER', os.environ['PYTEST_XDIST_WORKER'])\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-s",
                           "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    workers = {line.split()[0] for line in done.stdout.splitlines() if line.startswith("[gw")}
    assert "6 passed" in done.stdout and len(workers) == 1, done.stdout
