"""Reading an upload's content in a decoder process, under a memory and a time limit.

Everything the pipeline learns from a file's bytes — type, page count, separator sheets, scripts and
attachments, a page's text layer and its pixels — is worked out in a child process started here, never
in the web server or the worker itself. The child caps its own address space (RLIMIT_AS) at the
memory limit before it reads anything; the parent stops waiting and kills it at the time limit. A
decompression bomb, an endless drawing or a crash inside pdfium then ends the child, not the service:
the caller gets a FileProblem for that one file and the next file gets a fresh child.

Children are kept between calls (pdfium keeps recently read documents open, so the pages of one
upload are found at once) and each serves one call at a time; a thread takes an idle child or starts
one. The child answers in JSON plus raw pixel bytes, never pickle: what comes back from a process that
has parsed hostile input is data, not code.

Run as `python -m docsvc.formats.decoder MEMORY_MB` it is the child.
"""
from __future__ import annotations

import atexit
import fcntl
import json
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

from docsvc.errors import Explained
from docsvc.formats.problems import (
    CorruptFile,
    EncryptedFile,
    FileProblem,
    OddShape,
    TooLarge,
    UnsupportedFormat,
)
from docsvc.formats.pdf_text import TextLayer, TextWord
from docsvc.i18n import stored

_FRAME = struct.Struct(">II")  # header length, payload length
_PROBLEMS: dict[str, type[FileProblem]] = {
    kind.__name__: kind for kind in (FileProblem, CorruptFile, EncryptedFile, OddShape, TooLarge, UnsupportedFormat)}
# Children kept idle for the next call: one per thread that reads files is enough.
_MAX_IDLE = 8
# Starting a child (Python and the imaging libraries) is not the file's fault: it has its own allowance.
_START_TIMEOUT_S = 120.0
# Linux's default pipe-max-size: what an unprivileged process may ask for.
_PIPE_BYTES = 1 << 20


# Reading the file gets this share of a job's time limit; the rest is for OCR and storing the results.
READ_SHARE_OF_JOB = 0.8


@dataclass(frozen=True)
class Limits:
    """What one job's reading of a file may use: address space of the decoder process, and seconds.

    memory_mb 0 reads in the calling process, without either limit: for a platform without
    resource limits, and for the quick unit-test run, which may not start processes."""
    memory_mb: int
    timeout_s: float

    @property
    def isolated(self) -> bool:
        return self.memory_mb > 0

    @classmethod
    def within_job(cls, memory_mb: int, job_timeout_s: int) -> "Limits":
        """The limits for a job with DOCSVC_JOB_MEMORY_MB and DOCSVC_JOB_TIMEOUT as given."""
        return cls(memory_mb, job_timeout_s * READ_SHARE_OF_JOB)


class LimitExceeded(TooLarge):
    """Reading the file went over the memory or the time limit, or the decoder process died on it."""


class DecoderError(Explained):
    """An unexpected fault in the decoder, not the file's: the job retries it."""


# ----------------------------------------------------------------------------- what the jobs ask for

@dataclass(frozen=True)
class Survey:
    """What the split job needs to know of a file."""
    media_type: str
    page_count: int
    kinds: list[Any] | None  # coversheets.PageKind per page, when separator sheets were looked for
    javascript: int
    attachments: tuple[str, ...]


@dataclass(frozen=True)
class DecodedPage:
    image: Image.Image
    layer: TextLayer | None  # the page's own text layer, when it is real (the image is then for viewing)


def start(limits: Limits) -> None:
    """Have a decoder ready before the first file (a worker calls it at start-up, as it loads its models)."""
    if limits.isolated:
        child = _take(limits.memory_mb)
        try:
            child.wait_ready()
        except BaseException:
            child.kill()
            raise
        _give_back(child)


def survey(path: Path, separators: Iterable[str], limits: Limits) -> Survey:
    header, _ = _call({"op": "survey", "path": str(path), "separators": list(separators)}, limits)
    from docsvc.formats.coversheets import PageKind

    kinds = None if header["kinds"] is None else [PageKind(**k) for k in header["kinds"]]
    return Survey(header["media_type"], header["page_count"], kinds, header["javascript"],
                  tuple(header["attachments"]))


def read_page(path: Path, media_type: str, index: int, *, ocr_dpi: int, view_dpi: int, limits: Limits) -> DecodedPage:
    """The page's text layer (PDF) with an image at `view_dpi`, or, without one, its image at `ocr_dpi`."""
    header, pixels = _call({"op": "page", "path": str(path), "media_type": media_type, "index": index,
                            "ocr_dpi": ocr_dpi, "view_dpi": view_dpi}, limits)
    image = Image.frombytes(header["mode"], tuple(header["size"]), pixels)
    image.info["dpi"] = tuple(header["dpi"])
    layer = header["layer"]
    return DecodedPage(image, None if layer is None else TextLayer(
        layer["text"], [TextWord(text, tuple(box)) for text, box in layer["words"]]))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the parent's side

class _Child:
    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "docsvc.formats.decoder", str(memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        assert self.process.stdout is not None
        try:  # a page image crosses in a few large writes rather than dozens of 64 KB ones
            fcntl.fcntl(self.process.stdout.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        except OSError:  # above the system's pipe-max-size: the default size works, only slower
            pass
        self._ready = False

    def call(self, request: dict[str, Any], timeout_s: float) -> tuple[dict[str, Any], bytes]:
        """The answer to `request` within `timeout_s`, counting the child's start if it has not started
        yet: the job's own time limit (RQ's) counts it too, and must not fire first."""
        assert self.process.stdin is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        try:
            self.wait_ready(timeout_s)
        except (_Died, _Timeout):
            raise _NotStarted() from None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        return _read_frame(self.process.stdout, deadline - time.monotonic())

    def wait_ready(self, timeout_s: float = _START_TIMEOUT_S) -> None:
        if not self._ready:
            assert self.process.stdout is not None
            _read_frame(self.process.stdout, timeout_s)  # the child says it is ready
            self._ready = True

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class _Timeout(Exception):
    pass


class _Died(Exception):
    pass


class _NotStarted(Exception):
    pass


_idle: list[_Child] = []
_idle_lock = threading.Lock()


def _take(memory_mb: int) -> _Child:
    with _idle_lock:
        for child in _idle:
            if child.memory_mb == memory_mb and child.process.poll() is None:
                _idle.remove(child)
                return child
    return _Child(memory_mb)


def _give_back(child: _Child) -> None:
    with _idle_lock:
        if len(_idle) < _MAX_IDLE:
            _idle.append(child)
            return
    child.kill()


def _call(request: dict[str, Any], limits: Limits) -> tuple[dict[str, Any], bytes]:
    if not limits.isolated:
        from docsvc import formats

        return _handle(formats, request)
    child = _take(limits.memory_mb)
    healthy = False
    try:
        try:
            header, payload = child.call(request, limits.timeout_s)
        except _NotStarted:
            # Not the file's fault (a broken installation, no memory left on the machine): retried.
            child.kill()
            raise DecoderError(stored("The decoder process did not start (exit status %(status)s); see the "
                                      "worker's log.", status=child.process.returncode)) from None
        except _Timeout:
            raise LimitExceeded(_time_message(limits)) from None
        except (_Died, BrokenPipeError):
            child.kill()
            raise LimitExceeded(_died_message(limits, child.process.returncode)) from None
        if "memory" in header:
            raise LimitExceeded(_memory_message(limits))
        if "problem" in header:
            healthy = True
            raise _PROBLEMS.get(header["problem"], FileProblem)(header["message"])
        if "error" in header:
            healthy = True
            raise DecoderError(header["error"])
        healthy = True
        return header, payload
    finally:
        # Anything else (a timeout, the job's own time limit interrupting the wait) leaves the child in
        # an unknown state: it is killed, and the next call starts a fresh one.
        if healthy:
            _give_back(child)
        else:
            child.kill()


def _read_frame(stream: BinaryIO, timeout_s: float) -> tuple[dict[str, Any], bytes]:
    fd = stream.fileno()
    deadline = time.monotonic() + timeout_s
    head = _read_exact(fd, _FRAME.size, deadline)
    header_len, payload_len = _FRAME.unpack(head)
    header = json.loads(_read_exact(fd, header_len, deadline))
    return header, _read_exact(fd, payload_len, deadline)


def _read_exact(fd: int, size: int, deadline: float) -> bytes:
    parts: list[bytes] = []
    left = size
    while left:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Timeout()
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise _Timeout()
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise _Died()
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _memory_message(limits: Limits) -> str:
    return stored("Reading the file needed more memory than the limit (%(limit)s MB, DOCSVC_JOB_MEMORY_MB) and was "
                  "stopped to protect the service. It may be a decompression bomb or damaged: check where it came "
                  "from, re-scan or re-export it and upload it again; if it is sound, an administrator can raise the "
                  "limit and retry it.", limit=limits.memory_mb)


def _time_message(limits: Limits) -> str:
    return stored("Reading the file took longer than the limit (%(limit)s s, set by DOCSVC_JOB_TIMEOUT) and was "
                  "stopped to protect the service. It may be built to draw forever, or damaged: check where it came "
                  "from, re-scan or re-export it and upload it again; if it is sound, an administrator can raise "
                  "DOCSVC_JOB_TIMEOUT and retry it.", limit=f"{limits.timeout_s:.0f}")


def _died_message(limits: Limits, returncode: int | None) -> str:
    how = (stored("signal %(signal)s", signal=-returncode) if returncode is not None and returncode < 0
           else stored("exit status %(status)s", status=returncode))
    return stored("The decoder process stopped while reading the file (%(how)s), usually because it needed more "
                  "memory than the limit (%(limit)s MB, DOCSVC_JOB_MEMORY_MB) or the file is damaged; the service was "
                  "not affected. Check where it came from, re-scan or re-export it and upload it again; if it is "
                  "sound, an administrator can raise the limit and retry it.", how=how, limit=limits.memory_mb)


def _close_idle() -> None:
    with _idle_lock:
        while _idle:
            _idle.pop().kill()


atexit.register(_close_idle)


# ----------------------------------------------------------------------------- the child's side

def _serve(memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is for the parent to handle
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the answers
    from docsvc import formats

    _send(out, {"ready": True})
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            header, payload = _handle(formats, request)
        except MemoryError:
            _send(out, {"memory": True})
            return  # the heap may be in pieces: the parent starts a fresh child
        except FileProblem as problem:
            header, payload = {"problem": type(problem).__name__, "message": problem.stored}, b""
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which retries the job
            header, payload = {"error": f"{type(exc).__name__}: {exc}"[:500]}, b""
        _send(out, header, payload)


def _handle(formats: Any, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    path = Path(request["path"])
    if request["op"] == "survey":
        return _survey(formats, path, tuple(request["separators"])), b""
    media_type, index = request["media_type"], request["index"]
    layer = formats.text_layer(path, index) if media_type == "application/pdf" else None
    dpi = request["view_dpi"] if layer is not None else request["ocr_dpi"]
    image = formats.render_page(path, media_type, index, dpi=dpi)
    header = {"mode": image.mode, "size": list(image.size), "dpi": list(image.info["dpi"]),
              "layer": None if layer is None else {
                  "text": layer.text, "words": [[w.text, list(w.box)] for w in layer.words]}}
    return header, image.tobytes()


def _survey(formats: Any, path: Path, separators: tuple[str, ...]) -> dict[str, Any]:
    from docsvc.formats import coversheets, pdf

    info = formats.inspect(path)
    kinds = None
    if separators and _may_hold_separators(formats, path, info):
        kinds = [asdict(k) for k in coversheets.scan(path, info.media_type, info.page_count, separators)]
    active = pdf.active_content(path) if info.media_type == "application/pdf" else None
    return {"media_type": info.media_type, "page_count": info.page_count, "kinds": kinds,
            "javascript": active.javascript if active else 0,
            "attachments": list(active.attachments) if active else []}


def _may_hold_separators(formats: Any, path: Path, info: Any) -> bool:
    """Separator sheets come through the scanner: a PDF exported with a text layer holds none.

    Looking for them renders every page, so files that cannot hold them skip that cost.
    """
    if info.page_count < 2:
        return False
    return info.media_type != "application/pdf" or formats.text_layer(path, 0) is None


def _send(out: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    encoded = json.dumps(header, ensure_ascii=False).encode()
    out.write(_FRAME.pack(len(encoded), len(payload)))
    out.write(encoded)
    out.write(payload)
    out.flush()


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
