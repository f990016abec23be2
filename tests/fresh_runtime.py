"""A fresh Python environment that holds only some distributions, built offline in seconds.

A new virtualenv (no system site-packages) sees the distributions it is given, and everything
they require, through a ``.pth`` file that points at links to their files in this test
environment: what ``pip install numpy matplotlib tensorflow ipykernel`` would have put there,
without downloading or copying 1 GB. pip in the new environment sees those distributions as
installed and installs anything else into the environment's own ``site-packages``, where the
tests find and count it.
"""

import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_closure(names):
    """The installed distributions ``names`` need, themselves included, by canonical name."""
    found, pending = {}, list(names)
    while pending:
        name = canonical(pending.pop())
        if name in found:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # an optional or platform-specific requirement not installed here
        found[name] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return found


def top_level_entries(dist):
    """The entries of ``site-packages`` a distribution installed (packages, modules, its
    ``.dist-info``), outside ``bin/``."""
    entries = set()
    for file in dist.files or []:
        parts = Path(file).parts
        if parts and parts[0] not in ("..", "__pycache__"):
            entries.add(parts[0])
    return sorted(entries)


@dataclass
class FreshRuntime:
    """A virtualenv at ``root`` whose own ``site-packages`` starts empty."""

    root: Path
    linked: list

    @property
    def python(self):
        return self.root / "bin" / "python"

    @property
    def site_packages(self):
        return Path(subprocess.run([str(self.python), "-c", "import sysconfig; "
                                    "print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())

    def own_distributions(self):
        """Canonical names of the distributions installed into the environment itself."""
        return sorted(canonical(p.name.split("-")[0]) for p in self.site_packages.glob("*.dist-info")
                      if canonical(p.name.split("-")[0]) not in {"pip", "setuptools"})

    def run(self, *args, **kwargs):
        return subprocess.run([str(self.python), *args], capture_output=True, text=True, **kwargs)


def make_runtime(root, names):
    """Create a fresh virtualenv at ``root`` that sees the distributions ``names`` (and their
    requirements) from this environment, and nothing else but pip."""
    root = Path(root)
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    runtime = FreshRuntime(root, [])
    links = root / "linked-site-packages"
    links.mkdir()
    here = Path(sysconfig.get_paths()["purelib"])
    for name, dist in requirement_closure(names).items():
        if name in {"pip", "setuptools"}:
            continue
        for entry in top_level_entries(dist):
            source = here / entry
            if source.exists() and not (links / entry).exists():
                (links / entry).symlink_to(source)
        runtime.linked.append(name)
    (runtime.site_packages / "linked.pth").write_text(f"{links}\n")
    return runtime
