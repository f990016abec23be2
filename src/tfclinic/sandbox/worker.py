"""The student process: confines itself, runs the student's cells, answers calls with data.

Started by ``tfclinic.sandbox.student.StudentProcess`` as
``python -I -m tfclinic.sandbox.worker REQUEST_FD REPLY_FD WORKDIR LIMITS_JSON``. Nothing here
is trusted by the grader: whatever this process sends back is checked as data there.
"""

import contextlib
import io
import json
import os
import sys
import traceback

OUTPUT_CHARS_PER_REQUEST = 20_000


class CappedText(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit=OUTPUT_CHARS_PER_REQUEST):
        self.limit, self.parts, self.kept, self.dropped = limit, [], 0, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = max(self.limit - self.kept, 0)
        self.parts.append(text[:room])
        self.kept += min(len(text), room)
        self.dropped += max(len(text) - room, 0)
        return len(text)

    def getvalue(self):
        tail = f"\n[... {self.dropped:,} more characters of output dropped]\n" if self.dropped else ""
        return "".join(self.parts) + tail


class Worker:
    """Executes cells in one IPython namespace and serves the grader's requests."""

    def __init__(self, request_fd, reply_fd, workdir):
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False
        self.request_fd, self.reply_fd, self.workdir = request_fd, reply_fd, workdir
        self.shell = InteractiveShell.instance(config=config, colors="nocolor")
        self.objects, self.swapped = {}, []

    def _store(self, value):
        key = id(value)
        self.objects[key] = value
        return key

    def _resolve(self, tree):
        tag, *rest = tree
        if tag == "handle":
            return self.objects[rest[0]]
        if tag == "student":
            if rest[0] not in self.shell.user_ns:
                raise NameError(f"name '{rest[0]}' is not defined in the student's notebook")
            return self.shell.user_ns[rest[0]]
        module, name = rest
        if not module.startswith("tfclinic."):
            raise ValueError(f"{module}.{name} is not a tfclinic function")
        target = __import__(module, fromlist=[name])
        return getattr(getattr(target, name), "__wrapped__", getattr(target, name))

    def serve(self):
        from .protocol import receive, send

        while True:
            try:
                meta, arrays = receive(self.request_fd)
            except KeyboardInterrupt:
                continue  # an interrupt that arrived after its cell had finished
            except EOFError:
                return
            if meta["op"] == "exit":
                return
            reply, reply_arrays = self.handle(meta, arrays)
            send(self.reply_fd, reply, reply_arrays)

    def handle(self, meta, arrays):
        from .protocol import Decoder, Encoder

        output, encoder = CappedText(), Encoder(store=self._store, folder=self.workdir)
        reply = {"error": None}
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                decoder = Decoder(arrays, self._resolve, folder=self.workdir, safe_mode=False)
                if meta["op"] == "cell":
                    reply["error"] = self._run_cell(meta["source"])
                elif meta["op"] == "call":
                    function = decoder.decode(meta["function"])
                    args = decoder.decode(meta["args"])
                    kwargs = decoder.decode(meta["kwargs"])
                    reply["value"] = encoder.encode(function(*args, **kwargs))
                    reply["weights"] = [[encoder.encode(w) for w in model.get_weights()]
                                        for model in decoder.models]
                elif meta["op"] == "swap":
                    values = decoder.decode(meta["values"])
                    self.swapped.append({k: self.shell.user_ns.get(k) for k in values})
                    self.shell.user_ns.update(values)
                elif meta["op"] == "unswap":
                    self.shell.user_ns.update(self.swapped.pop())
                elif meta["op"] == "seed":
                    import keras

                    keras.utils.set_random_seed(meta["seed"])
        except BaseException as error:  # student code may raise anything, SystemExit included
            reply = {"error": [type(error).__name__, str(error)[:2000]],
                     "memory": isinstance(error, MemoryError)}
            traceback.print_exc(file=output)
        reply["output"] = output.getvalue()
        return reply, encoder.arrays

    def _run_cell(self, source):
        result = self.shell.run_cell(source, store_history=False, silent=False)
        error = result.error_before_exec or result.error_in_exec
        if error is None:
            return None
        if isinstance(error, MemoryError):
            raise error
        return [type(error).__name__, str(error)[:2000]]


def main():
    request_fd, reply_fd, workdir, limits = sys.argv[1:5]
    from .confine import Limits, confine

    confined = confine(workdir, Limits(**json.loads(limits)))
    os.chdir(workdir)
    from .protocol import send

    worker = Worker(int(request_fd), int(reply_fd), workdir)
    send(int(reply_fd), {"op": "ready", "confined": confined})
    worker.serve()


if __name__ == "__main__":
    main()
