"""Findings, the report that lists them, and the one registry of checks.

Every check is a small function registered with ``@check("SHP001", page, anchor)``; it
receives a :class:`~tfclinic.checkup.context.Context` and yields ``(severity, message, fix)``
for each problem it finds (nothing when all is well). The
registry is the only list of checks: ``checkup`` runs what is in it, the tests walk it.
"""

import html
from dataclasses import dataclass

# Relative links work in the built book and on its published copy alike.
BOOK_BASE = ""

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem the checkup found.

    Attributes:
        code: stable identifier, a chapter prefix and a number (``"SHP001"``).
        severity: ``"error"`` (training will fail or learn nothing) or ``"warning"``.
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


class Report(list):
    """The findings of one checkup, errors first; empty when nothing is wrong."""

    @property
    def errors(self):
        return [f for f in self if f.severity == ERROR]

    @property
    def warnings(self):
        return [f for f in self if f.severity == WARNING]

    @property
    def codes(self):
        return [f.code for f in self]

    def __str__(self):
        if not self:
            return "checkup: no problems found."
        head = f"checkup: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        return "\n".join([head, *(str(f) for f in self)])

    def _repr_html_(self):
        if not self:
            return "<p>checkup: no problems found.</p>"
        e = html.escape
        rows = "".join(
            f"<tr><td><code>{e(f.code)}</code></td><td>{e(f.severity)}</td><td>{e(f.message)}</td>"
            f"<td>{e(f.fix)}</td><td><a href=\"{e(f.link, quote=True)}\">{e(f.link)}</a></td></tr>"
            for f in self)
        return ("<table><thead><tr><th>code</th><th>severity</th><th>problem</th><th>fix</th>"
                f"<th>read more</th></tr></thead><tbody>{rows}</tbody></table>")


@dataclass(frozen=True)
class Check:
    """A registered check: its function, code, chapter section and whether it trains."""

    function: object
    code: str
    link: str
    deep: bool

    def finding(self, severity, message, fix):
        return Finding(self.code, severity, message, fix, self.link)


REGISTRY = []


def check(code, page, anchor, deep=False):
    """Register ``function(ctx)`` as the check that reports ``code``.

    Args:
        code: the stable code of the finding (``"SCL001"``).
        page: the book chapter (``"scaling"``).
        anchor: the section id in that chapter's HTML page.
        deep: the check trains or runs the model, so only ``checkup(deep=True)`` runs it.
    """
    def register(function):
        if any(c.code == code for c in REGISTRY):
            raise ValueError(f"check code {code} is registered twice")
        REGISTRY.append(Check(function, code, f"{BOOK_BASE}{page}.html#{anchor}", deep))
        return function
    return register
