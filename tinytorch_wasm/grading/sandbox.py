"""The confinement of one grading unit: a process that runs a learner's code and must not escape, forge or leak.

A unit (a module's tests, the instructor's private tests for it, or a milestone) runs in a child forked from a clean
zygote (zygote.py) that has imported everything it needs but never ran learner code. Before the learner's first
line (the gate), the child confines itself in layers; each says what enforces it:

- kernel: CPU seconds, address space, file size, open files (rlimits); the zygote kills the child at its wall
  time. When the grader runs as root, the child also becomes a user of its own (one per parallel slot) allowed a
  single process, so it cannot start another program or write outside its scratch folder whatever it runs, and it
  enters an empty network namespace where the kernel allows one.
- Python, before the gate: no new native modules (`_imp`'s loaders removed), no `_posixsubprocess.fork_exec` (the
  one way to start a program that raises no audit event), no signal handlers (a handler sees any frame).
- an audit hook (PEP 578; code cannot remove it) that denies, and records as a violation: programs, threads,
  sockets, ctypes, reading anything but the Python installation, the harness, the course files the site ships and
  the scratch folder (so never the instructor's tests), writing outside the scratch folder, new audit hooks,
  tracing, the garbage collector's object lists, bytecode built by hand, and replacing a function's code.
- sealed results: the unit's outcomes reach the hook only through `tinytorch.grading` events sent from a stack of
  trusted code (code that existed before the gate, or was loaded from the course by trusted code); an event sent
  with learner code anywhere on the stack is a violation. The hook keeps the outcomes in its closure, checks at the
  end that no function watched by integrity.Fingerprint was replaced, writes them once with a nonce that only it
  and the zygote know to a file the learner's code cannot open, and ends the process. Everything the hook calls is
  bound when it is installed: learner code can replace module attributes and builtins, not the hook's cells.

What this is not: CPython is no security boundary (PEP 578 says so of audit hooks). A learner who studies this file
could still, with effort, fool tests in their own process (say, through an object finalizer that calls trusted
code while no learner frame is on the stack, or by changing what a test module's globals point to and restoring
it before the end). The kernel layers, the per-unit processes and the instructor's private tests, whose names and
output the learner never sees, are the defence of record; docs/grading.md lists what is caught and what is not.
"""
from __future__ import annotations

import _signal
import gc
import os
import posix
import resource
import signal
import sys
import types

# Events that start programs, threads or connections, load native code or read the interpreter's innards.
DENIED = frozenset({
    "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.kill", "os.killpg",
    "os.startfile", "subprocess.Popen", "pty.spawn", "_thread.start_new_thread", "sys.addaudithook", "sys.settrace",
    "sys.setprofile", "sys._current_frames", "gc.get_objects", "gc.get_referrers", "gc.get_referents", "setopencode",
    "resource.setrlimit", "resource.prlimit", "os.link", "os.chroot", "os.mknod", "os.mkfifo",
    "sqlite3.enable_load_extension", "sqlite3.load_extension"})
DENIED_PREFIXES = ("socket.", "ctypes.", "urllib.", "http.client.", "ftplib.", "smtplib.", "imaplib.", "nntplib.",
                   "poplib.", "telnetlib.", "webbrowser.", "cpython.run_", "cpython.PyInterpreterState_New")
# Events that change the file system, and which of their arguments are paths that must lie in the scratch folder.
WRITES = {"os.remove": (0,), "os.rmdir": (0,), "os.rename": (0, 1), "os.mkdir": (0,), "os.chmod": (0,),
          "os.chown": (0,), "os.truncate": (0,), "os.utime": (0,), "os.chflags": (0,), "os.lchflags": (0,),
          "os.removexattr": (0,), "os.setxattr": (0,), "shutil.rmtree": (0,), "shutil.move": (0, 1),
          "shutil.copytree": (1,), "shutil.copyfile": (1,), "os.chdir": (0,),
          "os.symlink": (1,)}  # a link may point anywhere: what is read through it is checked where it leads
LISTINGS = frozenset({"os.listdir", "os.scandir", "glob.glob", "os.walk", "os.fwalk"})
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
EVENT = "tinytorch.grading"  # the one custom event: ("record", kind, json) | ("seal", outcome) | ("violation", why)
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
MAX_FILES_CREATED = 256
MAX_VIOLATIONS_KEPT = 20
MAX_RECORDS = 20_000
_install_signal_handler = _signal.signal  # the grader's own (C) one, kept before remove_escape_hatches() takes it away


class Limits:
    """What one unit may use: wall seconds (the zygote enforces them), memory, the size of any file it writes."""

    def __init__(self, seconds: float, memory_bytes: int, file_bytes: int = 16 << 20, open_files: int = 64):
        self.seconds, self.memory_bytes, self.file_bytes, self.open_files = seconds, memory_bytes, file_bytes, open_files


class Policy:
    """Which paths a unit may read and write (fixed before the gate); any folder may be listed but hidden ones."""

    def __init__(self, scratch, readable_dirs, readable_files=(), hidden_dirs=()):
        self.scratch = os.path.realpath(scratch)
        self.readable_dirs = tuple(os.path.realpath(d) for d in readable_dirs)
        self.readable_files = frozenset(os.path.realpath(f) for f in readable_files)
        self.hidden_dirs = tuple(os.path.realpath(d) for d in hidden_dirs)  # not even listed


# --- the kernel layers ------------------------------------------------------------------------------------------
def apply_limits(limits: Limits, own_user: bool) -> None:
    cpu = int(limits.seconds) + 5  # a backstop: the zygote kills at the wall time first
    for name, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, limits.memory_bytes),
                        (resource.RLIMIT_FSIZE, limits.file_bytes), (resource.RLIMIT_NOFILE, limits.open_files),
                        (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(name, (value, value))
    if own_user:
        resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))  # this process and no other for its user id
    _install_signal_handler(int(signal.SIGXFSZ), int(signal.SIG_IGN))  # an over-long file fails the write (EFBIG), not the process


def _libc():
    import ctypes
    return ctypes, ctypes.CDLL(None, use_errno=True)


def enter_empty_network() -> bool:
    """A network namespace of its own with no interface up: nothing can leave, whatever the code does."""
    ctypes, libc = _libc()
    return libc.unshare(0x40000000) == 0  # CLONE_NEWNET: needs CAP_SYS_ADMIN (root outside a locked container)


def become(uid: int, keep_read_search: bool) -> None:
    """Drop root for `uid`, with no groups. With keep_read_search the process keeps one capability,
    CAP_DAC_READ_SEARCH, for a Python installation that other users cannot read (a pyenv under /root): reads then
    stay confined by the audit hook only, writes and processes by the kernel."""
    ctypes, libc = _libc()
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: nothing executed later can gain privileges
    if keep_read_search:
        libc.prctl(8, 1, 0, 0, 0)  # PR_SET_KEEPCAPS: keep the permitted set across the user change
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if keep_read_search:
        class Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        class Data(ctypes.Structure):
            _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                        ("inheritable", ctypes.c_uint32)]
        sets = (Data * 2)()
        sets[0].effective = sets[0].permitted = 1 << 2  # CAP_DAC_READ_SEARCH
        if libc.capset(ctypes.byref(Header(0x20080522, 0)), sets) != 0:  # _LINUX_CAPABILITY_VERSION_3
            raise OSError(ctypes.get_errno(), "capset failed")


# --- the Python layers ------------------------------------------------------------------------------------------
def _refuse_signal_handlers(*args, **kwargs):
    sys.audit(EVENT, "violation", "installing a signal handler (a handler can see any frame it interrupts)")
    raise PermissionError("not allowed while grading: signal handlers")


def _refuse_threads(*args, **kwargs):
    sys.audit(EVENT, "violation", "starting a thread")
    raise PermissionError("not allowed while grading: threads")


def _no_native_modules(*args, **kwargs):
    raise ImportError("no native module can be loaded while grading")


def remove_escape_hatches() -> None:
    """Take away what no audit event guards. Call once every module the units need is imported: afterwards this
    process loads no native module, starts no program through _posixsubprocess and installs no signal handler."""
    import _imp
    import _posixsubprocess
    import _signal
    import subprocess
    for name in ("create_dynamic", "exec_dynamic", "create_builtin", "exec_builtin"):
        setattr(_imp, name, _no_native_modules)
    for holder in (_posixsubprocess, subprocess):
        for name in ("fork_exec", "_fork_exec"):
            if hasattr(holder, name):
                delattr(holder, name)
    _signal.signal = signal.signal = _refuse_signal_handlers
    import _thread
    import threading
    _thread.start_new_thread = _thread.start_new = threading._start_new_thread = _refuse_threads


def trusted_code() -> dict[int, types.CodeType]:
    """Every code object of every function alive now, and the code nested in it: all that ran before the gate."""
    found: dict[int, types.CodeType] = {}

    def add(code):
        if id(code) not in found:
            found[id(code)] = code
            for const in code.co_consts:
                if type(const) is types.CodeType:
                    add(const)
    for obj in gc.get_objects():
        if type(obj) is types.FunctionType:
            add(obj.__code__)
    frame = sys._getframe()
    while frame is not None:  # the code running now, down to the module that started this process
        add(frame.f_code)
        frame = frame.f_back
    return found


def install(policy: Policy, trusted: dict[int, types.CodeType], fingerprint, result_fd: int, nonce_fd: int,
            unit_json: str) -> None:
    """Install the hook. It makes a nonce, hands it to the zygote through `nonce_fd` (then closed) and keeps it,
    the outcomes and `result_fd` in its closure, which nothing in Python can reach."""
    trusted = dict(trusted)  # the hook's own copy: the caller's may stay reachable from its frames
    # Everything the hook uses, bound now: learner code may later replace builtins and module attributes (this
    # module's too), never these cells.
    _type, _id, _len, _str, _bytes, _int, _getattr, _enumerate, _memoryview = (
        type, id, len, str, bytes, int, getattr, enumerate, memoryview)
    _PermissionError, _OSError, _CodeType = PermissionError, OSError, types.CodeType
    _lstat, _readlink, _getcwd, _write, _close, _exit = (posix.lstat, posix.readlink, posix.getcwd, posix.write,
                                                         posix.close, posix._exit)
    _getframe = sys._getframe
    _gc_enabled, _gc_disable, _gc_enable = gc.isenabled, gc.disable, gc.enable
    from _json import encode_basestring_ascii as _quote
    denied, denied_prefixes, writes, listings, frame_attributes, event_name = (
        DENIED, DENIED_PREFIXES, dict(WRITES), LISTINGS, FRAME_ATTRIBUTES, EVENT)
    write_flags, max_files, max_violations, max_records = (WRITE_FLAGS, MAX_FILES_CREATED, MAX_VIOLATIONS_KEPT,
                                                           MAX_RECORDS)
    bindings = [(namespace, name, value) for _, namespace, name, value in fingerprint.bindings]
    labels = [label for label, *_ in fingerprint.bindings]
    codes = [(label, function, code) for label, function, code in fingerprint.code]
    scratch, readable_dirs, readable_files = policy.scratch, policy.readable_dirs, policy.readable_files
    hidden_dirs = policy.hidden_dirs
    records, violations, busy, state = [], [], set(), {"sealed": False, "created": 0}
    from _thread import get_ident as _get_ident
    debug = os.environ.get("TINYTORCH_GRADING_DEBUG") == "1"  # denials also on the unit's output
    sandbox: set[int] = set()
    nonce = posix.urandom(24).hex()
    _write(nonce_fd, nonce.encode())
    _close(nonce_fd)

    def within(path, roots):
        for root in roots:
            if path == root or path.startswith(root + "/"):
                return True
        return False

    def realpath(path):
        """os.path.realpath, with the C functions bound above only."""
        if not path.startswith("/"):
            path = _getcwd() + "/" + path
        pending, resolved, links = [p for p in path.split("/") if p], "", 0
        while pending:
            part = pending.pop(0)
            if part == ".":
                continue
            if part == "..":
                resolved = resolved[:resolved.rfind("/")] if resolved else ""
                continue
            candidate = resolved + "/" + part
            try:
                mode = _lstat(candidate).st_mode
            except _OSError:
                resolved = candidate
                continue
            if mode & 0o170000 == 0o120000:
                links += 1
                if links > 40:
                    deny("a chain of more than 40 symbolic links")
                target = _readlink(candidate)
                pending = [p for p in target.split("/") if p] + pending
                if target.startswith("/"):
                    resolved = ""
                continue
            resolved = candidate
        return resolved or "/"

    def deny(what):
        if debug:
            _write(2, ("[sandbox] denied: " + what + "\n").encode())
        if _len(violations) < max_violations and what not in violations:
            violations.append(what)
        raise _PermissionError("not allowed while grading: " + what)

    def check_path(path, how):
        if _type(path) is _bytes:
            path = path.decode("utf-8", "surrogateescape")
        elif _type(path) is not _str:
            deny("a path that is not text")
        real = realpath(path)
        if real == "/dev/null" or within(real, (scratch,)):
            if how == "create" and not exists(real):
                state["created"] += 1
                if state["created"] > max_files:
                    deny("creating more than " + _str(max_files) + " files")
            return
        if how in ("write", "create"):
            deny("writing " + path + " (outside the scratch folder)")
        if real.endswith(".pyc"):
            raise _PermissionError("compiled bytecode is not read while grading")  # imports compile the source
        if how == "list" and not within(real, hidden_dirs):
            return  # names are no secret, and the import system lists every folder on sys.path
        if how == "read" and (within(real, readable_dirs) or real in readable_files or real == "/dev/urandom"):
            return
        deny("reading " + path + " (outside what a submission may read)")

    def exists(path):
        try:
            _lstat(path)
            return True
        except _OSError:
            return False

    def stack_is_trusted():
        frame = _getframe(1)
        while frame is not None:
            code_id = _id(frame.f_code)
            if code_id not in trusted and code_id not in sandbox:
                return False
            frame = frame.f_back
        return True

    def trust(code):
        trusted[_id(code)] = code
        for const in code.co_consts:
            if _type(const) is _CodeType:
                trust(const)

    def trusted_source(code):
        filename = code.co_filename
        if _type(filename) is not _str or not filename.startswith("/"):
            return False
        real = realpath(filename)
        return not within(real, (scratch,)) and (within(real, readable_dirs) or real in readable_files)

    def tampered():
        changed = [labels[i] for i, (namespace, name, value) in _enumerate(bindings)
                   if namespace.get(name) is not value]
        changed += [label + ".__code__" for label, function, code in codes if function.__code__ is not code]
        return changed

    def seal(outcome):
        state["sealed"] = True
        text = _str(outcome) if _type(outcome) in (_int, _str) else "unknown"
        body = ('{"unit": ' + unit_json + ', "outcome": ' + _quote(text) +
                ', "records": [' + ", ".join("[" + _quote(kind) + ", " + payload + "]" for kind, payload in records) +
                '], "violations": [' + ", ".join(_quote(v) for v in violations) +
                '], "tampered": [' + ", ".join(_quote(t) for t in tampered()[:10]) + "]}")
        data = _memoryview((nonce + " " + body + "\n").encode())
        while data:
            data = data[_write(result_fd, data):]
        _exit(0)

    def on_event(args):
        if not args or _type(args[0]) is not _str:
            return
        if args[0] == "violation" and _len(args) > 1 and _type(args[1]) is _str:
            deny(args[1])
        if not stack_is_trusted():
            deny("sending results to the grader from the learner's code")
        if state["sealed"]:
            deny("a second result after the unit was sealed")
        if args[0] == "record" and _len(args) == 3 and _type(args[1]) is _str and _type(args[2]) is _str:
            if _len(records) < max_records:
                records.append((args[1], args[2]))
        elif args[0] == "seal" and _len(args) == 2:
            seal(args[1])

    def body(event, args):
        if event == "open":
            path, mode, flags = args
            if _type(path) is _int:
                return  # an open descriptor: its opening was checked
            writing = (_type(mode) is _str and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)) or (
                _type(flags) is _int and flags & write_flags)
            if mode is None and _type(path) in (_str, _bytes) and not path.startswith("/" if _type(path) is _str
                                                                                       else b"/"):
                deny("os.open of a relative path (it could be relative to another folder's descriptor)")
            check_path(path, "create" if writing else "read")
        elif event in listings:
            if args and _type(args[0]) is not _int:
                check_path(args[0] if args[0] is not None else ".", "list")
        elif event in writes:
            for index in writes[event]:
                if index < _len(args) and _type(args[index]) is not _int:
                    check_path(args[index], "create" if event == "os.mkdir" else "write")
        elif event in denied or event.startswith(denied_prefixes):
            deny(event + " (no programs, threads, network, native code or looking into the grader)")
        elif event == "object.__getattr__":
            if args[1] in frame_attributes:
                frame = _getattr(args[0], args[1], None)
                if frame is not None and _id(frame.f_code) in sandbox:
                    deny("reading the grader's own frame")
        elif event == "sys._getframe":
            if args and _id(args[0].f_code) in sandbox:
                deny("reading the grader's own frame")
        elif event == "object.__setattr__" or event == "object.__delattr__":
            if args[1] == "__code__":
                deny("replacing a function's code")
        elif event == "function.__new__":
            if args and _id(args[0]) in trusted:
                deny("making a new function from the grader's code")
        elif event == "code.__new__" or event == "marshal.loads" or event == "marshal.load":
            if not stack_is_trusted():
                deny(event + " (bytecode built by hand)")
        elif event == "exec":
            code = args[0]
            if _type(code) is _CodeType and _id(code) not in trusted and trusted_source(code) and stack_is_trusted():
                trust(code)  # the course's tests and milestones, loaded by pytest or the harness
        elif event == event_name:
            on_event(args)

    def hook(event, args):
        thread = _get_ident()
        if thread in busy:
            return  # the hook's own calls in this thread; no learner code runs in it while the hook does
        busy.add(thread)
        collecting = _gc_enabled()
        _gc_disable()  # no finalizer of a learner object may run while the hook is on the stack
        try:
            body(event, args)
        finally:
            if collecting:
                _gc_enable()
            busy.discard(thread)

    def add_sandbox(code):
        sandbox.add(id(code))
        for const in code.co_consts:
            if type(const) is types.CodeType:
                add_sandbox(const)
    for function in (within, realpath, deny, check_path, exists, stack_is_trusted, trust, trusted_source,
                     tampered, seal, on_event, body, hook):
        add_sandbox(function.__code__)
    sys.addaudithook(hook)
