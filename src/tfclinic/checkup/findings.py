"""Findings, the report that lists them, and the one registry of checks.

Every check is a small function registered with ``@check("SHP001", page, anchor)``; it
receives a :class:`~tfclinic.checkup.context.Context` and yields ``(severity, message, fix)``
for each problem it finds (nothing when all is well). The
registry is the only list of checks: ``checkup`` runs what is in it, the tests walk it.
"""

import html
from dataclasses import dataclass

from ..publishing import installed_book_url

# Where links to the book start: the published book from a terminal, relative in the book's
# own pages (tfclinic.publishing.installed_book_url).
BOOK_BASE = installed_book_url()

ERROR = "error"
WARNING = "warning"
# A note: true, worth knowing, but not a reason to change a program that trains (a check
# that also fires on healthy programs reports at this level). Notes never count as problems.
INFO = "info"
_RANK = {ERROR: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True)
class Finding:
    """One problem the checkup found.

    Attributes:
        code: stable identifier, a chapter prefix and a number (``"SHP001"``).
        severity: ``"error"`` (training will fail or learn nothing), ``"warning"`` (it will
            train worse than it should) or ``"info"`` (a note; not counted as a problem).
        message: one line saying what was expected and what was found.
        fix: what to change.
        link: the book section that explains it (relative to ``BOOK_BASE``).
    """

    code: str
    severity: str
    message: str
    fix: str
    link: str

    def __str__(self):
        return f"{self.code} [{self.severity}] {self.message}\n    fix: {self.fix}\n    see: {self.link}"


@dataclass(frozen=True)
class Measurement:
    """One number the deep trial measured, shown whether or not it is a problem.

    Attributes:
        name: what was measured (``"first loss"``).
        found: the value, as text (``"0.712"``).
        expected: what a healthy model shows, as text, or ``""`` when there is no rule.
    """

    name: str
    found: str
    expected: str = ""

    def __str__(self):
        return f"{self.name}: {self.found}" + (f" (expected {self.expected})" if self.expected else "")


class Report(list):
    """The findings of one checkup, errors first, notes last.

    A report with notes only is clean: ``report.problems`` is empty and it prints "no
    problems found". Checks that failed internally are listed in ``report.internal``, never
    raised. ``report.measurements`` holds what ``deep=True`` measured (first loss, trial,
    one-batch overfit, gradient norms): printed under the findings, never counted as one.
    """

    def __init__(self, findings=(), internal=(), measurements=()):
        super().__init__(sorted(findings, key=lambda f: _RANK.get(f.severity, 3)))
        self.internal = list(internal)
        self.measurements = list(measurements)

    @property
    def errors(self):
        return [f for f in self if f.severity == ERROR]

    @property
    def warnings(self):
        return [f for f in self if f.severity == WARNING]

    @property
    def notes(self):
        return [f for f in self if f.severity == INFO]

    @property
    def problems(self):
        """Errors and warnings: what a clean report has none of."""
        return [f for f in self if f.severity != INFO]

    @property
    def codes(self):
        """The codes of the errors and warnings (notes aside), in report order."""
        return [f.code for f in self.problems]

    @property
    def all_codes(self):
        return [f.code for f in self]

    def __str__(self):
        if not self.problems:
            head = "checkup: no problems found."
            if self.notes:
                head = f"checkup: no problems found ({len(self.notes)} note(s))."
        else:
            head = f"checkup: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"
            if self.notes:
                head += f", {len(self.notes)} note(s)"
        lines = [head, *(str(f) for f in self)]
        if self.measurements:
            lines.append("measured on a copy of the model (deep=True):")
            lines += [f"    {m}" for m in self.measurements]
        lines += [f"checkup internal: {note}" for note in self.internal]
        return "\n".join(lines)

    def _repr_html_(self):
        e = html.escape
        if not self:
            found = "<p>checkup: no problems found.</p>"
        else:
            rows = "".join(
                f"<tr><td><code>{e(f.code)}</code></td><td>{e(f.severity)}</td><td>{e(f.message)}</td>"
                f"<td>{e(f.fix)}</td><td><a href=\"{e(f.link, quote=True)}\">{e(f.link)}</a></td></tr>"
                for f in self)
            found = ("<table><thead><tr><th>code</th><th>severity</th><th>problem</th><th>fix</th>"
                     f"<th>read more</th></tr></thead><tbody>{rows}</tbody></table>")
        if not self.measurements:
            return found
        rows = "".join(f"<tr><td>{e(m.name)}</td><td>{e(m.found)}</td><td>{e(m.expected)}</td></tr>"
                       for m in self.measurements)
        return (f"{found}<p>Measured on a copy of the model (<code>deep=True</code>):</p>"
                "<table class=\"tfclinic-measurements\"><thead><tr><th>measurement</th>"
                f"<th>found</th><th>expected</th></tr></thead><tbody>{rows}</tbody></table>")


@dataclass(frozen=True)
class Check:
    """A registered check: its function, code, chapter section and whether it trains."""

    function: object
    code: str
    link: str
    deep: bool
    needs_y: bool = True
    confirm: bool = False

    def finding(self, severity, message, fix):
        return Finding(self.code, severity, message, fix, self.link)


REGISTRY = []


def link(page, anchor):
    return f"{BOOK_BASE}{page}.html#{anchor}"


def check(code, page, anchor, deep=False, needs_y=True, confirm=False):
    """Register ``function(ctx)`` as the check that reports ``code``.

    Args:
        code: the stable code of the finding (``"SCL001"``).
        page: the book chapter (``"scaling"``).
        anchor: the section id in that chapter's HTML page.
        deep: the check trains or runs the model, so only ``checkup(deep=True)`` runs it.
        needs_y: the check reads the labels, so it is skipped when there are none.
        confirm: the warning names a cause that healthy programs also show (pixels in
            0..255, unscaled targets): where the run can be watched (``tfclinic checkup
            script.py``), it is a note until the run goes badly, and a warning only then.
    """
    def register(function):
        if any(c.code == code for c in REGISTRY + RUN_REGISTRY):
            raise ValueError(f"check code {code} is registered twice")
        REGISTRY.append(Check(function, code, f"{BOOK_BASE}{page}.html#{anchor}", deep, needs_y,
                              confirm))
        return function
    return register


# Checks that judge a training run once it has happened (``CheckupCallback``, the hooks of
# ``tfclinic checkup script.py``): each receives a ``checks_training.Run``.
RUN_REGISTRY = []


def run_check(code, page, anchor):
    """Register ``function(run)`` as the check of a finished training run that reports ``code``."""
    def register(function):
        if any(c.code == code for c in REGISTRY + RUN_REGISTRY):
            raise ValueError(f"check code {code} is registered twice")
        RUN_REGISTRY.append(Check(function, code, link(page, anchor), False, False))
        return function
    return register


def run_all(registry, subject, should_skip=lambda entry, findings: False):
    """Run each check of ``registry`` on ``subject``: a Report, internal failures as notes."""
    findings, internal = [], []
    for entry in registry:
        if should_skip(entry, findings):
            continue
        try:
            for severity, message, fix in entry.function(subject) or ():
                findings.append(entry.finding(severity, message, fix))
        except Exception as error:  # noqa: BLE001 - a check must never break the program
            text = str(error).splitlines()[0] if str(error) else ""
            internal.append(f"{entry.code} could not run ({type(error).__name__}: {text})")
    return Report(findings, internal)
