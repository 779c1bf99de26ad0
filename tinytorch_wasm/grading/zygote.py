"""A clean process that forks one child per grading unit: it imports everything once, never runs learner code, and
judges each child from outside (wall time, exit, the sealed result file).

    python -m tinytorch_wasm.grading.zygote      (started by the grader; speaks JSON lines on stdin/stdout)

The first line it reads is the slot's context (its user id, what units may read); it answers {"ready": ...}. Each
later line is a job; the answer is what became of it. One job at a time per zygote; the grader runs one zygote per
core. Forking costs milliseconds where starting Python with NumPy and pytest costs about a second.
"""
from __future__ import annotations

import importlib
import json
import os
import pkgutil
import select
import signal
import sys
import time

# Imported here, before any learner code exists, so the children need no import of a native module (they cannot
# load one) and every function they may call is in the trusted code the audit hook checks stacks against.
STDLIB = ("abc", "argparse", "array", "ast", "base64", "binascii", "bisect", "bz2", "calendar", "cmath", "codecs",
          "collections", "collections.abc", "contextlib", "copy", "copyreg", "cProfile", "csv", "dataclasses",
          "datetime", "decimal", "difflib", "dis", "enum", "errno", "fnmatch", "fractions", "functools", "gc", "glob",
          "gzip", "hashlib", "heapq", "hmac", "importlib.abc", "importlib.machinery", "importlib.util", "inspect",
          "io", "itertools", "json", "keyword", "linecache", "locale", "logging", "lzma", "math", "numbers",
          "operator", "os", "pathlib", "pickle", "platform", "pprint", "pstats", "queue", "random", "re", "secrets",
          "select", "shutil", "signal", "statistics", "stat", "string", "struct", "sysconfig", "tempfile",
          "textwrap", "threading", "time", "timeit", "tokenize", "traceback", "tracemalloc", "types", "typing",
          "unicodedata", "unittest", "uuid", "warnings", "weakref", "zipfile", "zlib")
OPTIONAL = ("readline", "pwd", "grp", "resource", "termios", "fcntl", "mmap", "_ctypes", "ctypes")  # if present
# What the fingerprint checks when a unit ends: the test machinery, the harness, NumPy (which the tests judge with)
# and the standard library modules they call.
WATCHED = ("tinytorch_wasm", "pytest", "_pytest", "pluggy", "json", "importlib", "builtins", "numpy", "math", "os",
           "posixpath", "re", "types", "functools", "operator", "collections", "itertools", "inspect", "traceback",
           "linecache", "io", "warnings", "contextlib", "pathlib", "copy", "abc", "enum", "dataclasses", "typing",
           "weakref", "textwrap", "time", "random", "sys")
OUTPUT_SHOWN = 8000  # characters of a unit's output kept (its start and its end)


def warm_up() -> None:
    import _pytest
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    for name in sys.builtin_module_names:
        importlib.import_module(name)
    for name in STDLIB:
        importlib.import_module(name)
    for name in OPTIONAL:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    for part in pkgutil.walk_packages(_pytest.__path__, "_pytest."):
        importlib.import_module(part.name)
    for name in ("numpy.testing", "numpy.linalg", "numpy.fft", "numpy.random", "numpy.lib.stride_tricks"):
        importlib.import_module(name)
    import tinytorch_wasm
    for part in pkgutil.walk_packages(tinytorch_wasm.__path__, "tinytorch_wasm."):
        if part.name not in ("tinytorch_wasm.__main__", "tinytorch_wasm.tab"):
            importlib.import_module(part.name)


def _probe_user(uid: int, paths: list[str]) -> bool:
    """Whether `uid` can read the Python installation and the course as they are (no capability needed)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            for path in paths:
                os.listdir(path) if os.path.isdir(path) else open(path, "rb").close()
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def _probe_network() -> bool:
    pid = os.fork()
    if pid == 0:
        from . import sandbox
        os._exit(0 if sandbox.enter_empty_network() else 1)
    return os.waitpid(pid, 0)[1] == 0


def _read_line(buffer: bytearray) -> dict | None:
    """The next JSON line from stdin, read with os.read so no copy of it lingers in a stream's buffer (a child
    inherits this process's memory)."""
    while b"\n" not in buffer:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return json.loads(line)


def _say(message: dict) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(1, data):]


def _output(path: str) -> tuple[str, int]:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if size <= OUTPUT_SHOWN:
            text = f.read()
        else:
            head = f.read(OUTPUT_SHOWN // 2)
            f.seek(size - OUTPUT_SHOWN // 2)
            text = head + f"\n[... {size - OUTPUT_SHOWN} bytes of output left out ...]\n".encode() + f.read()
    return text.decode("utf-8", "replace"), size


def _sealed_result(path: str, nonce: str) -> tuple[dict | None, str | None]:
    """The one line the hook sealed with the nonce; anything else in the file means something else wrote there."""
    with open(path, "rb") as f:
        data = f.read(64 << 20)
    if not nonce:
        return None, None
    lines = [line for line in data.split(b"\n") if line.strip()]
    sealed = [line for line in lines if line.startswith(nonce.encode() + b" ")]
    if len(sealed) != 1 or len(lines) != 1:
        return None, ("the result file holds other lines than the grader's sealed result: the learner's code wrote "
                      "to it" if lines else None)
    try:
        return json.loads(sealed[0][len(nonce) + 1:]), None
    except ValueError:
        return None, "the sealed result could not be read"


def run_job(job: dict, context: dict) -> dict:
    from .unit import child_main
    output_fd = os.open(job["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    result_fd = os.open(job["result"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    nonce_read, nonce_write = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(nonce_read)
            child_main(job, context, output_fd, result_fd, nonce_write)
        except BaseException:  # noqa: BLE001 - the grader's own failure: on the unit's output, for its report
            import traceback
            os.write(2, ("grader failure in the unit's process:\n" + traceback.format_exc()).encode())
        finally:
            os._exit(72)
    for fd in (output_fd, result_fd, nonce_write):
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    finished = select.select([pidfd], [], [], job["limits"]["seconds"])[0]
    if not finished:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
    status = os.waitpid(pid, 0)[1]
    os.close(pidfd)
    seconds = time.monotonic() - started
    try:
        os.killpg(pid, signal.SIGKILL)  # anything the unit left in its process group
    except OSError:
        pass
    nonce = os.read(nonce_read, 256).decode("ascii", "replace")
    os.close(nonce_read)
    result, problem = _sealed_result(job["result"], nonce)
    output, output_bytes = _output(job["output"])
    return {"id": job["id"], "timed_out": not finished, "seconds": round(seconds, 3),
            "exit_code": os.waitstatus_to_exitcode(status), "result": result, "problem": problem,
            "output": output, "output_bytes": output_bytes}


def main() -> None:
    buffer = bytearray()
    setup = _read_line(buffer)
    warm_up()
    from . import sandbox
    from ..integrity import Fingerprint
    uid = setup.get("uid") if os.geteuid() == 0 else None
    readable = [*setup["readable_dirs"], *setup["readable_files"]]
    own_user = uid is not None
    keep_read_search = own_user and not _probe_user(uid, [p for p in readable if os.path.exists(p)])
    network = own_user and setup.get("network", True) and _probe_network()
    sandbox.remove_escape_hatches()
    context = {"uid": uid, "keep_read_search": keep_read_search, "network": network,
               "readable_dirs": setup["readable_dirs"], "readable_files": setup["readable_files"],
               "hidden_dirs": setup["hidden_dirs"], "fingerprint": Fingerprint(watched=WATCHED),
               "trusted": sandbox.trusted_code()}
    _say({"ready": True, "own_user": own_user, "keep_read_search": keep_read_search, "network": network,
          "pid": os.getpid()})
    while (job := _read_line(buffer)) is not None:
        try:
            _say(run_job(job, context))
        except Exception as exc:  # noqa: BLE001 - the grader's own failure for this job: report it, keep serving
            _say({"id": job.get("id"), "grader_error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    main()
