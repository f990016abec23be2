"""Where the course is published, read from the one place that says it: ``book/_config.yml``.

``repository.url`` names the GitHub repository; from it come the Colab links, the address
of the published book (GitHub Pages: ``https://OWNER.github.io/REPO/``, or ``html.baseurl``
when set) and the install source of the notebooks' setup cell (``tfclinic.install``, a pip
requirement in which ``{version}``, ``{book}`` and ``{repository}`` are filled in). The
publish build (``tfclinic book --publish``) refuses a placeholder repository, and one that
``[project.urls]`` in ``pyproject.toml`` contradicts, since the installed package's checkup
links to the book through that metadata.
"""

import os
import re
from pathlib import Path

from . import __version__
from .errors import TfclinicError

_GITHUB = re.compile(r"^https://github\.com/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$")
# Owners that stand for "your account here" in a template, never a real repository.
_PLACEHOLDER_OWNER = re.compile(r"^(your[-_].*|owner|example|username|user)$", re.IGNORECASE)

BOOK_URL_VARIABLE = "TFCLINIC_BOOK_URL"  # set by `tfclinic book`: "" locally, the address when published
DEFAULT_INSTALL = "tfclinic @ {book}_static/wheels/tfclinic-{version}-py3-none-any.whl"


def read_config(project):
    """The parsed ``book/_config.yml`` of ``project`` (a dict)."""
    import yaml

    path = Path(project) / "book" / "_config.yml"
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise TfclinicError(f"cannot read {path}: {str(error).splitlines()[0]}") from None


def github_repository(url):
    """``(owner, repo)`` of a GitHub repository address.

    Raises:
        ValueError: if ``url`` is not ``https://github.com/OWNER/REPO``.

    Example:
        >>> github_repository("https://github.com/ada/course.git")
        ('ada', 'course')
    """
    match = _GITHUB.match(url or "")
    if not match:
        raise ValueError(f"repository.url must be a GitHub repository address "
                         f"(https://github.com/OWNER/REPO), got {url!r}")
    return match["owner"], match["repo"]


def is_placeholder(url):
    """Whether ``url`` is the template's stand-in (``https://github.com/your-account/...``)."""
    try:
        owner, _ = github_repository(url)
    except ValueError:
        return False
    return bool(_PLACEHOLDER_OWNER.match(owner))


def repository(config):
    """``(url, branch)`` from the ``repository`` section of a parsed ``_config.yml``."""
    section = config.get("repository") or {}
    return section.get("url", ""), section.get("branch") or "main"


def book_url(config):
    """The address of the published book, ending in ``/``: ``html.baseurl`` when set, else the
    GitHub Pages address of ``repository.url``.

    Example:
        >>> book_url({"repository": {"url": "https://github.com/ada/course"}})
        'https://ada.github.io/course/'
    """
    base = ((config.get("html") or {}).get("baseurl") or "").strip()
    if base:
        return base if base.endswith("/") else base + "/"
    owner, repo = github_repository(repository(config)[0])
    return f"https://{owner.lower()}.github.io/{repo}/"


def install_requirement(config, version=__version__):
    """The pip requirement the setup cell installs: ``tfclinic.install`` with its fields filled.

    Raises:
        TfclinicError: when the template names a field other than version, book, repository.
    """
    template = (config.get("tfclinic") or {}).get("install") or DEFAULT_INSTALL
    url, _ = repository(config)
    try:
        return template.format(version=version, book=book_url(config), repository=url.rstrip("/"))
    except (KeyError, IndexError, ValueError) as error:
        raise TfclinicError(f"tfclinic.install in book/_config.yml is not a valid template "
                            f"({error}); it may use {{version}}, {{book}} and {{repository}}.") from None


def check_publishable(config, project_urls):
    """Refuse to publish a book whose links would lead to someone else's repository.

    Args:
        config: the parsed ``book/_config.yml``.
        project_urls: ``[project.urls]`` of ``pyproject.toml`` (``Book``, ``Repository``).

    Returns:
        The published book's address.

    Raises:
        TfclinicError: for a placeholder or non-GitHub ``repository.url``, or ``project.urls``
            that names another repository or book.
    """
    url, _ = repository(config)
    if is_placeholder(url):
        raise TfclinicError(f"repository.url in book/_config.yml is the placeholder {url}; set it "
                            "to your GitHub repository (and [project.urls] in pyproject.toml) "
                            "before publishing.")
    try:
        base = book_url(config)
    except ValueError as error:
        raise TfclinicError(f"{error}; set it in book/_config.yml before publishing.") from None
    wanted = {"Repository": url.rstrip("/").removesuffix(".git"), "Book": base}
    for key, value in wanted.items():
        found = (project_urls.get(key) or "").rstrip("/")
        if found != value.rstrip("/"):
            raise TfclinicError(f"[project.urls] {key} in pyproject.toml is {found or 'missing'!s}, "
                                f"but book/_config.yml publishes {value}; make them agree.")
    return base


def project_urls(project):
    """``[project.urls]`` of the checkout's ``pyproject.toml``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(project) / "pyproject.toml"
    return tomllib.loads(path.read_text(encoding="utf-8")).get("project", {}).get("urls", {})


def installed_book_url():
    """Where the checkup's links to the book start.

    ``$TFCLINIC_BOOK_URL`` when set: ``tfclinic book`` sets it to ``""`` for a local build (the
    links stay relative, within the book) and to the book's address for ``--publish``.
    Otherwise the ``Book`` address in the installed tfclinic's metadata (``[project.urls]``),
    so that a report printed in a terminal links to the published book; ``""`` when there is
    none or it is still the template's placeholder.
    """
    if BOOK_URL_VARIABLE in os.environ:
        return os.environ[BOOK_URL_VARIABLE]
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        entries = metadata("tfclinic").get_all("Project-URL") or []
    except PackageNotFoundError:
        return ""
    for entry in entries:
        label, _, url = entry.partition(",")
        url = url.strip()
        host = re.match(r"^https://([^/.]+)\.", url)
        if label.strip().lower() == "book" and host and not _PLACEHOLDER_OWNER.match(host[1]):
            return url if url.endswith("/") else url + "/"
    return ""
