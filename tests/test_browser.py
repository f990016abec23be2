"""The built book in a real browser: every page loads, every image shows, every internal
link resolves, and no page logs an unexpected error.

Headless Chromium is Debian's ``chromium`` package, driven by Playwright's Python package;
no browser is ever downloaded. Without ``/usr/bin/chromium`` the test is skipped, except in
CI (``CI=true``), where ``.ci/run`` installs it and the test must run. The network is
blocked: every request that leaves the local server fails the test (MathJax included, which
the book serves from its own ``_static/``), and the count of such requests is printed.
"""

import functools
import http.server
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tfclinic.course.book import lesson_chapters

pytestmark = pytest.mark.xdist_group("book")  # shares the session's book build (conftest.py)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NOT_PAGES = {"_static", "_sources", "_downloads", "_images"}  # assets, not pages of the book


def require_chromium():
    reason = None
    if not CHROMIUM.is_file():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright Python package is not installed (pip install -e '.[dev]')"
    if reason and os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the browser test (see .ci/run)")
    if reason:
        pytest.skip(reason)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class BookServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the browser closing a tab mid-download is not the book's fault


@pytest.fixture(scope="module")
def server(html):
    """The built book on http://127.0.0.1:PORT/, served from a thread."""
    handler = functools.partial(QuietHandler, directory=str(html))
    httpd = BookServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def book_pages(html):
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if p.relative_to(html).parts[0] not in NOT_PAGES)


@functools.lru_cache(maxsize=None)
def status(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


IMAGES = """async () => {
  const images = Array.from(document.images);
  images.forEach(img => { img.loading = "eager"; });
  await Promise.all(images.map(img => img.complete ? null :
      new Promise(done => { img.onload = done; img.onerror = done; })));
  return images.map(img => ({src: img.currentSrc || img.src,
                             width: img.naturalWidth, height: img.naturalHeight}));
}"""
LINKS = "() => Array.from(document.querySelectorAll('a[href]'), a => a.href)"
# Typeset formulas (MathJax 3 replaces each by an mjx-container), and formulas left as TeX.
MATH = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  return {typeset: document.querySelectorAll('mjx-container').length,
          raw: document.querySelectorAll('.math:not(:has(mjx-container))').length};
}"""
IDS = "() => Array.from(document.querySelectorAll('[id]'), e => e.id)"


@pytest.mark.slow
def test_every_page_loads_with_its_images_links_and_no_console_error(project, html, server, tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    pages = book_pages(html)
    lessons = lesson_chapters(project)
    assert {"index.html", "intro.html"} <= set(pages)
    assert {f"{lesson}.html" for lesson in lessons} <= set(pages)
    assert {f"exercises/{lesson}.html" for lesson in lessons} <= set(pages)
    screenshots = tmp_path / "screenshots"
    screenshots.mkdir()
    print(f"\nscreenshots of the lesson pages: {screenshots}")

    problems, links, ids, outside_requests, typeset = [], {}, {}, [], {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        # The book must work offline: a request that leaves the local server is a defect.
        def outside(route):
            outside_requests.append(route.request.url)
            problems.append(f"external request {route.request.url}")
            route.abort()

        context.route(lambda url: not url.startswith(server), outside)
        for name in pages:
            tab = context.new_page()
            errors = []
            tab.on("console", lambda message, errors=errors:
                   errors.append(message.text) if message.type == "error" else None)
            tab.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            tab.on("requestfailed", lambda request, errors=errors:
                   errors.append(f"request failed: {request.url}"))
            response = tab.goto(server + name, wait_until="load")
            if response is None or response.status != 200:
                problems.append(f"{name}: HTTP {response and response.status}")
            tab.wait_for_load_state("networkidle")
            if tab.url != server + name:  # index.html forwards to the first chapter
                links.setdefault(tab.url, name)
                problems += [f"{name}: console error: {text}" for text in errors]
                tab.close()
                continue
            for image in tab.evaluate(IMAGES):
                if not (image["width"] > 0 and image["height"] > 0):
                    problems.append(f"{name}: image {image['src']} has no natural size")
            for href in tab.evaluate(LINKS):
                if href.startswith(server):
                    links.setdefault(href, name)
            ids[server + name] = set(tab.evaluate(IDS))
            math = tab.evaluate(MATH)
            if math["typeset"] or math["raw"]:
                typeset[name] = math["typeset"]
                if math["raw"]:
                    problems.append(f"{name}: {math['raw']} formulas left as TeX (MathJax did not run)")
            problems += [f"{name}: console error: {text}" for text in errors]
            lesson = name.removesuffix(".html")
            if lesson in lessons or lesson.startswith("exercises/"):
                tab.screenshot(path=str(screenshots / (lesson.replace("/", "-") + ".png")))
            tab.close()
        browser.close()

    print(f"requests that left 127.0.0.1: {len(outside_requests)}; formulas typeset offline: "
          f"{sum(typeset.values())} on {len(typeset)} pages")
    assert "dtypes.html" in typeset and typeset["dtypes.html"] > 0  # the chapter with formulas
    for href, origin in sorted(links.items()):
        target, _, fragment = href.partition("#")
        code = status(target)
        if code != 200:
            problems.append(f"{origin}: link {href} answers HTTP {code}")
        elif fragment and target in ids and urllib.parse.unquote(fragment) not in ids[target]:
            problems.append(f"{origin}: link {href} points to a missing anchor")
    assert not problems, "\n".join(problems)
    shots = sorted(p.name for p in screenshots.iterdir())
    assert shots == sorted([f"{lesson}.png" for lesson in lessons]
                           + [f"exercises-{lesson}.png" for lesson in lessons])
    assert all((screenshots / shot).stat().st_size > 10_000 for shot in shots)


WIDTHS = {"desktop": 1366, "phone": 390}
# Every output box and table of a page: clipped when its text needs more room than it shows
# (a table may scroll inside its own box, text may not); and whether the page scrolls sideways.
MEASURE = """() => {
  const clipped = [];
  const boxes = Array.from(document.querySelectorAll("div.cell_output pre, div.output pre"));
  for (const box of boxes) {
    if (box.scrollWidth <= box.clientWidth + 1) continue;
    // A table drawn in text (Keras's model.summary()) may scroll inside its own box.
    const scrolls = ["auto", "scroll"].includes(getComputedStyle(box).overflowX);
    if (scrolls && /[\u2500-\u257f]/.test(box.textContent)) continue;
    clipped.push(box.textContent.trim().slice(0, 80));
  }
  const page = document.scrollingElement || document.documentElement;
  return {boxes: boxes.length, clipped: clipped,
          sideways: page.scrollWidth > window.innerWidth + 1, width: page.scrollWidth};
}"""


@pytest.mark.slow
def test_outputs_are_readable_at_desktop_and_phone_widths(project, html, server, tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    names = [f"{name}.html" for name in lesson_chapters(project)] + ["instructors.html", "playbook.html"]
    screenshots = tmp_path / "widths"
    screenshots.mkdir()
    print(f"\nscreenshots at {', '.join(map(str, WIDTHS.values()))} px: {screenshots}")
    problems, counts = [], {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for label, width in WIDTHS.items():
            context = browser.new_context(viewport={"width": width, "height": 900})
            context.route(lambda url: not url.startswith(server),
                          lambda route: route.fulfill(status=200, content_type="text/javascript", body=""))
            for name in names:
                tab = context.new_page()
                tab.goto(server + name, wait_until="load")
                found = tab.evaluate(MEASURE)
                counts[label] = counts.get(label, 0) + found["boxes"]
                problems += [f"{name} at {width} px: clipped output {text!r}" for text in found["clipped"]]
                if found["sideways"]:
                    problems.append(f"{name} at {width} px: the page is {found['width']} px wide")
                tab.screenshot(path=str(screenshots / f"{name[:-5]}-{width}.png"), full_page=True)
                tab.close()
            context.close()
        browser.close()
    print(f"output boxes checked: {counts}")
    assert not problems, "\n".join(problems)
    assert counts["desktop"] == counts["phone"] > 50
