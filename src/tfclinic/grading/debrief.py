"""``OUT/report.html``: the page an instructor runs the after-workshop discussion from.

Per lesson: a histogram of the scores, and per test cell the share of graded students who
passed it and the failure messages seen most often (the test's error type and first line,
counted). Then the submissions that could not be graded, with their reasons, and the late
ones, with how late and what it cost. One self-contained file: the histograms are inline PNG
(matplotlib's Agg backend), there is no script and nothing is loaded from elsewhere, so it
opens offline and can be mailed. Every student-controlled string is escaped.
"""

import base64
import html
import io
from collections import Counter
from datetime import datetime, timezone

from ..course.course_settings import late_text

TOP_MESSAGES = 3

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1rem; max-width: 64rem;
       line-height: 1.4; color: #1b1b1b; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.msg { overflow-wrap: anywhere; min-width: 12rem; }
img { max-width: 100%; height: auto; }
.bar { display: inline-block; height: .7rem; background: #3a7bd5; vertical-align: middle; }
.muted { color: #666; }
@media (max-width: 40rem) {  /* a phone: each row becomes a card, each cell a labelled line */
  table, tbody, tr, td { display: block; } thead { display: none; }
  tr { border: 1px solid #ccc; margin-bottom: .6rem; } td { border: none; text-align: left !important; }
  td::before { content: attr(data-label) ": "; font-weight: 600; }
  td.msg ul { margin: .2rem 0; padding-left: 1.2rem; }
}
"""


def write_debrief(path, grades, tests, settings, skipped=()):
    """Write the debrief page to ``path``.

    Args:
        grades: the ``tfclinic.grading.grade.Grade`` rows of the run.
        tests: ``{(student, lesson): {cell: {"points", "score", "error"}}}`` of graded ones.
        settings: the run's ``CourseSettings`` (deadlines, late policy).
        skipped: lines about folders that were not graded at all.
    """
    lessons = sorted({g.lesson for g in grades})
    late = [g for g in grades if g.seconds_late]
    ungraded = [g for g in grades if g.status != "graded"]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>Grading debrief</title><style>{_STYLE}</style></head><body>",
             "<h1>Grading debrief</h1>",
             f"<p>{len(grades)} submissions from {len({g.student for g in grades})} students in "
             f"{len(lessons)} lesson{'s' * (len(lessons) != 1)}: "
             f"{len(grades) - len(ungraded)} graded, {len(ungraded)} not graded, {len(late)} late. "
             f"<span class='muted'>Written {when}.</span></p>",
             "<nav><ul>" + "".join(f"<li><a href='#lesson-{_e(l)}'>{_e(l)}</a></li>" for l in lessons)
             + "<li><a href='#ungraded'>Not graded</a></li><li><a href='#late'>Late</a></li></ul></nav>"]
    for lesson in lessons:
        parts.append(_lesson_section(lesson, [g for g in grades if g.lesson == lesson], tests))
    parts.append(_ungraded_section(ungraded, skipped))
    parts.append(_late_section(late, grades, settings))
    parts.append("</body></html>\n")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _e(text):
    return html.escape(str(text), quote=True)


def _lesson_section(lesson, rows, tests):
    graded = [g for g in rows if g.status == "graded"]
    scores = [g.score for g in graded]
    mean = f"mean {sum(scores) / len(scores):.1f} of {rows[0].max_score:g}" if scores else "none graded"
    out = [f"<h2 id='lesson-{_e(lesson)}'>{_e(lesson)}</h2>",
           f"<p>{len(graded)} of {len(rows)} submissions graded; {mean}.</p>"]
    if scores:
        out.append(f"<img alt='Histogram of {_e(lesson)} scores' src='data:image/png;base64,"
                   f"{_histogram(lesson, scores, rows[0].max_score)}' width='640' height='240'>")
    cells = {}
    for grade in graded:
        for name, test in tests.get((grade.student, grade.lesson), {}).items():
            cells.setdefault(name, []).append(test)
    if cells:
        out.append("<div class='scroll'><table><thead><tr><th>test cell</th><th class='num'>points</th>"
                   "<th class='num'>passed</th><th>most common failures</th></tr></thead><tbody>")
        for name, results in cells.items():
            passed = sum(r["score"] >= r["points"] for r in results)
            share = passed / len(results)
            failures = Counter(_message(r["error"]) for r in results if r.get("error"))
            listed = "".join(f"<li>{count} &times; <code>{_e(text)}</code></li>"
                             for text, count in failures.most_common(TOP_MESSAGES))
            out.append(f"<tr><td data-label='test cell'><code>{_e(name)}</code></td>"
                       f"<td class='num' data-label='points'>{results[0]['points']:g}</td>"
                       f"<td class='num' data-label='passed'>{passed}/{len(results)} ({share:.0%}) "
                       f"<span class='bar' style='width:{round(48 * share)}px'></span></td>"
                       f"<td class='msg' data-label='most common failures'>"
                       f"{'<ul>' + listed + '</ul>' if listed else '—'}</td></tr>")
        out.append("</tbody></table></div>")
    return "\n".join(out)


def _message(error):
    """``AssertionError: the loss did not fall`` from a runner's ``[type, message]``."""
    kind, text = (list(error) + ["", ""])[:2]
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if first.endswith(":"):  # "in user code:" then frames: the error itself is the last line
        first = next((line for line in reversed(lines) if not line.startswith("File ")), first)
    return f"{kind}: {first[:200]}" if first else str(kind)


def _histogram(lesson, scores, max_score):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 2.4), dpi=100)
    axes = figure.subplots()
    top = max(max_score, max(scores))
    bins = [x - 0.5 for x in range(int(top) + 2)] if top <= 20 else 20
    axes.hist(scores, bins=bins, color="#3a7bd5", edgecolor="white")
    axes.set_xlabel(f"score (of {max_score:g})")
    axes.set_ylabel("students")
    axes.set_title(f"{lesson}: {len(scores)} graded")
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def _ungraded_section(ungraded, skipped):
    out = ["<h2 id='ungraded'>Not graded</h2>"]
    if not ungraded and not skipped:
        return out[0] + "<p>Every submission was graded.</p>"
    if ungraded:
        out.append("<div class='scroll'><table><thead><tr><th>student</th><th>lesson</th><th>status</th>"
                   "<th>reason</th></tr></thead><tbody>")
        out += [f"<tr><td data-label='student'>{_e(g.student)}</td><td data-label='lesson'>{_e(g.lesson)}</td>"
                f"<td data-label='status'>{_e(g.status)}</td>"
                f"<td class='msg' data-label='reason'>{_e(g.message)}</td></tr>" for g in ungraded]
        out.append("</tbody></table></div>")
    if skipped:
        out.append("<p>Folders skipped:</p><ul>" + "".join(f"<li>{_e(s)}</li>" for s in skipped) + "</ul>")
    return "\n".join(out)


def _late_section(late, grades, settings):
    out = [f"<h2 id='late'>Late</h2><p>Late policy: {_e(settings.late.describe())}.</p>"]
    if not settings.deadlines:
        return out[0] + "<p>No deadlines are set (see the course settings file).</p>"
    unknown = sum(g.submitted is None and g.lesson in settings.deadlines for g in grades)
    if unknown:
        out.append(f"<p>{unknown} submissions have no recorded submission time and were not "
                   "judged late.</p>")
    if not late:
        return "\n".join(out + ["<p>No submission was late.</p>"])
    out.append("<div class='scroll'><table><thead><tr><th>student</th><th>lesson</th><th>submitted (UTC)</th>"
               "<th class='num'>late by</th><th class='num'>penalty</th></tr></thead><tbody>")
    out += [f"<tr><td data-label='student'>{_e(g.student)}</td><td data-label='lesson'>{_e(g.lesson)}</td>"
            f"<td data-label='submitted'>{_e(g.submitted.strftime('%Y-%m-%d %H:%M'))}</td>"
            f"<td class='num' data-label='late by'>{late_text(g.seconds_late)}</td>"
            f"<td class='num' data-label='penalty'>{g.penalty:g}</td></tr>" for g in late]
    out.append("</tbody></table></div>")
    return "\n".join(out)
