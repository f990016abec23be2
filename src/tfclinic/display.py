"""Errors and warnings a reader can read: the message in full, the reader's own frames only.

A TensorFlow error shown the stock way in a notebook is mostly library internals
(``traceback_utils``, autograph, ``.venv/.../site-packages``) and paths of the machine that
ran it (``/tmp/ipykernel_1234/5678.py``); the one line that explains it comes last and is
clipped in a narrow box. :func:`install`, called by ``tfclinic.runtime.begin()`` under
IPython, changes only how errors and warnings are *shown*:

- an error prints the frames of the notebook's own cells (``this cell, line 3``; a function
  defined in another cell is ``cell In[5], line 2, in make_features``), then the error type
  and its full message, with machine paths taken out of the message too;
- a warning prints ``Category: message``.

What an error *is* does not change: the cell still fails, ``ename``/``evalue`` of the output
are the exception's own, and ``%tb`` prints the stock traceback with every frame.
"""

import os
import re
import sys
import sysconfig
import traceback
import warnings
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_KERNEL_FILE = re.compile(r"/tmp/ipykernel_\d+/\d+\.py|<ipython-input-\d+-[0-9a-f]+>")
_SITE_PACKAGES = re.compile(r"(?:[^\s\"'(]*/)?(?:site|dist)-packages/")
_HEADER = "Traceback (your code, most recent call last; %tb shows every frame):"

_state = {"showwarning": None}


def _library_folders():
    """Folders whose files are libraries, never the reader's code."""
    folders = {sysconfig.get_paths().get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    folders.add(str(Path(__file__).resolve().parent))  # tfclinic itself
    return tuple(sorted(f for f in folders if f))


def _cell_number(shell, filename):
    numbers = getattr(getattr(shell, "compile", None), "_filename_map", {}) if shell else {}
    return numbers.get(filename)


def _is_cell(shell, filename):
    return _cell_number(shell, filename) is not None or bool(_KERNEL_FILE.fullmatch(filename))


def cell_label(shell, filename):
    """``this cell`` for the cell being run, ``cell In[N]`` for another one, else ``a cell``."""
    number = _cell_number(shell, filename)
    if number is None:
        return "a cell"
    if number == max(shell.compile._filename_map.values()):  # the cell compiled last
        return "this cell"
    return f"cell In[{number}]"


def clean_paths(text, shell=None):
    """``text`` with machine paths replaced: cells by their label, libraries by their package."""
    if shell is not None:
        for filename in list(getattr(getattr(shell, "compile", None), "_filename_map", {})):
            if filename in text:
                text = text.replace(filename, cell_label(shell, filename))
    text = _KERNEL_FILE.sub("a cell", text)
    text = _SITE_PACKAGES.sub("", text)
    stdlib = sysconfig.get_paths().get("stdlib")
    if stdlib:
        text = text.replace(stdlib + os.sep, "")
    for folder, name in ((os.getcwd(), "."), (os.path.expanduser("~"), "~")):
        if len(folder) > 1:
            text = re.sub(re.escape(folder) + r"(?=[/\s\"']|$)", name, text)
    return text


# A frame that TensorFlow lists in the message of an error raised inside a traced function.
_TRACED_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+, in ')


def _is_library_file(path):
    """Whether a path cleaned by :func:`clean_paths` is a library's file, not a notebook cell
    or a file of the reader's own folder."""
    if path in ("a cell", "this cell", "your code") or path.startswith("cell In["):
        return False
    return not path.startswith("./") or "/tfclinic/" in path


def readable_message(text, shell=None):
    """An error message as a reader should see it: no colour codes, no machine paths, and no
    library frames in the frames TensorFlow lists for an error inside a traced function
    (``in user code:``), the frames of the reader's code kept."""
    lines, skip_source_of = [], None
    for line in clean_paths(_ANSI.sub("", text), shell).splitlines():
        indent = len(line) - len(line.lstrip())
        if skip_source_of is not None and indent > skip_source_of and line.strip():
            continue  # the source line of a library frame
        skip_source_of = None
        frame = _TRACED_FRAME.match(line)
        if frame and _is_library_file(frame.group(1)):
            skip_source_of = indent
            continue
        lines.append(line)
    return "\n".join(lines)


def reader_frames(tb, shell=None, label=None):
    """The frames of ``tb`` in the reader's own code: notebook cells and files outside libraries.

    ``label(filename)`` names a cell; by default :func:`cell_label`.
    """
    libraries = _library_folders()
    label = label or (lambda filename: cell_label(shell, filename))
    frames = []
    for frame in traceback.extract_tb(tb):
        if _is_cell(shell, frame.filename):
            where = label(frame.filename)
        elif (frame.filename.startswith(("<", *libraries))
              or os.path.basename(frame.filename).startswith("__autograph_generated")):
            continue
        else:
            where = clean_paths(frame.filename, shell)
        function = "" if frame.name == "<module>" else f", in {frame.name}"
        frames.append((f"{where}, line {frame.lineno}{function}", (frame.line or "").strip()))
    return frames


def _message(value, shell):
    text = readable_message(str(value), shell).rstrip()
    name = type(value).__name__
    return f"{name}: {text}" if text else name


def format_error(value, tb, shell=None, label=None, message=True):
    """The lines shown for an error: the reader's frames, then type and full message.

    A cause or context that Python would show (``raise ... from``) comes first, the same way.
    ``label`` names cells (see :func:`reader_frames`); ``message=False`` leaves out the last
    error's own line, for a caller that shows it separately.
    """
    lines, seen, chain = [], set(), []
    error = value
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    for depth, error in enumerate(reversed(chain)):
        if depth:
            lines.append("")
            lines.append("The error above led to this one:")
        frames = reader_frames(tb if error is value and tb is not None else error.__traceback__,
                               shell, label)
        if frames:
            lines.append(_HEADER)
            for where, line in frames:
                lines.append(f"  {where}")
                if line:
                    lines.append(f"    {line}")
        if message or depth < len(chain) - 1:
            lines.append(_message(error, shell))
    return lines


def format_warning(message, category, filename, lineno, line=None):
    """``Category: message``: no path of the machine, no source line of a library."""
    return f"{category.__name__}: {_ANSI.sub('', str(message)).strip()}\n"


def _show_warning(message, category, filename, lineno, file=None, line=None):
    stream = sys.stderr if file is None else file
    try:
        stream.write(format_warning(message, category, filename, lineno, line))
    except (OSError, AttributeError):
        pass  # stderr gone, as warnings.showwarning itself tolerates


def _handle(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler: show the short form, keep ``%tb`` working."""
    if issubclass(etype, SyntaxError):  # IPython's own display already names the cell
        shell.showsyntaxerror()
        return None
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    sys.last_exc = value
    stb = ["\n".join(format_error(value, tb, shell))]
    shell._showtraceback(etype, value, stb)
    return stb


def install(shell=None):
    """Show errors and warnings the readable way in ``shell`` (the running IPython by default).

    Does nothing outside IPython, or when the shell already has a custom exception handler
    (the grader's student process sets its own). Returns whether it installed.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or getattr(shell, "custom_exceptions", ()) not in ((), None):
        return False
    shell.set_custom_exc((Exception,), _handle)
    if _state["showwarning"] is None:
        _state["showwarning"] = warnings.showwarning
    warnings.showwarning = _show_warning
    return True


def uninstall(shell=None):
    """Go back to IPython's stock tracebacks and Python's stock warnings."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is not None and getattr(shell, "CustomTB", None) is not None:
        shell.set_custom_exc((), None)
    if _state["showwarning"] is not None:
        warnings.showwarning, _state["showwarning"] = _state["showwarning"], None
