#!/usr/bin/env python3
"""Build, serve, bundle and test the course.

    python build.py            build the static site into dist/
    python build.py serve      build, then serve dist/ on http://127.0.0.1:8000/ (--port N, --no-isolation)
    python build.py bundle     build, then write tinytorch-course-offline.zip (the site, serve.py, how to open it)
    python build.py test       build, then run the whole test suite (extra arguments go to pytest)
    python build.py bench      build, then measure the course in Chromium (--quick, --runs N); see bench-results/
    python build.py autograder write tinytorch-autograder.zip for Gradescope (--tests DIR, --weights FILE)

Any command takes --course FILE: the course.toml to build (default: ./course.toml; docs/instructors.md).

On a fresh machine the first run installs what it needs: a virtual environment in .venv (requirements.txt), the
front-end packages (package-lock.json), and for `test` and `bench` the browsers from Debian (Chromium, Firefox ESR,
WebKitGTK) and a locale for them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"
VENV = ROOT / ".venv"
OFFLINE_ZIP = ROOT / "tinytorch-course-offline.zip"
CACHE = Path(os.environ.get("TINYTORCH_CACHE", Path.home() / ".cache" / "tinytorch-browser"))
PINS = ROOT / "runtime" / "pins.toml"
STDLIB = "python_stdlib.zip"  # Pyodide's standard library, shipped compiled (runtime/precompile.mjs)
STDLIB_ENTRY = "stdlib"  # its entry in the site's pyodide-lock.json, beside "packages"
CHROMIUM = Path("/usr/bin/chromium")


class BuildError(Exception):
    """A build step failed in a way the user must act on; the message says what and where."""


# --- environment -----------------------------------------------------------------------------------------------
def _run(*cmd, cwd=ROOT):
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run(list(map(str, cmd)), cwd=cwd, check=True)


def _stamp_ok(stamp: Path, source: Path) -> bool:
    return stamp.exists() and stamp.read_text() == sha256_of(source)


# What the browser tests need from Debian: Chromium, Firefox ESR, WebKitGTK's WebDriver and MiniBrowser (under a
# virtual display), and a real locale for WebKit (under the locale C it reports the language tag "C").
BROWSERS = {"chromium": CHROMIUM, "firefox-esr": Path("/usr/bin/firefox-esr"),
            "webkit2gtk-driver": Path("/usr/bin/WebKitWebDriver"), "xvfb": Path("/usr/bin/Xvfb"),
            "locales": Path("/usr/sbin/locale-gen")}
LOCALE = "en_US.UTF-8"


def _locale_missing() -> bool:
    found = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.lower().split()
    return LOCALE.lower().replace("utf-8", "utf8") not in found


def ensure_environment(need_browser: bool) -> None:
    """Install what is missing, then continue inside .venv (re-running this script there)."""
    missing = [name for name, path in BROWSERS.items() if not path.exists()] if need_browser else []
    if missing or (need_browser and _locale_missing()):
        if os.geteuid() != 0:
            raise BuildError(f"the browser tests need Debian's {', '.join(missing) or 'locales'} and the locale "
                             f"{LOCALE}: run `sudo apt-get install {' '.join(BROWSERS)}` and "
                             f"`sudo locale-gen {LOCALE}`")
        if missing:
            _run("apt-get", "update")
            _run("apt-get", "install", "-y", *missing)
        Path("/etc/locale.gen").write_text(Path("/etc/locale.gen").read_text() + f"\n{LOCALE} UTF-8\n")
        _run("locale-gen")
    if not (ROOT / "node_modules" / ".bin" / "esbuild").exists() or not _stamp_ok(
            ROOT / "node_modules" / ".tt-stamp", ROOT / "package-lock.json"):
        _run("npm", "ci", "--no-audit", "--no-fund")
        (ROOT / "node_modules" / ".tt-stamp").write_text(sha256_of(ROOT / "package-lock.json"))
    python = VENV / "bin" / "python"
    if not _stamp_ok(VENV / ".tt-stamp", ROOT / "requirements.txt"):
        if not python.exists():
            _run(sys.executable, "-m", "venv", VENV)
        _run(python, "-m", "pip", "install", "--quiet", "-r", ROOT / "requirements.txt")
        (VENV / ".tt-stamp").write_text(sha256_of(ROOT / "requirements.txt"))
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


# --- the Python runtime: downloaded once, every file checked ----------------------------------------------------
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, sha256: str, cache: Path = CACHE) -> Path:
    """The file at `url`, from the cache or downloaded, accepted only with the pinned sha256."""
    dest = cache / url.rsplit("/", 1)[-1]
    if not dest.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"downloading {url}", flush=True)
        partial = dest.with_suffix(dest.suffix + ".part")
        try:
            with urllib.request.urlopen(url, timeout=120) as response, open(partial, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise BuildError(f"could not download {dest.name} from {url}: {error}") from error
        partial.rename(dest)
    actual = sha256_of(dest)
    if actual != sha256:
        raise BuildError(f"{dest.name} (from {url}, cached at {dest}) has sha256 {actual}, expected {sha256}; "
                         f"the file was not used. Delete it to download it again.")
    return dest


def runtime_files(pins: dict, cache: Path = CACHE) -> tuple[dict[str, bytes], dict]:
    """Every file the site ships under pyodide/<version>/, and the trimmed lock that lists exactly those."""
    core = pins["pyodide"]
    files = {}
    with tarfile.open(fetch(core["url"], core["sha256"], cache)) as tar:
        for name in core["files"]:
            files[name] = tar.extractfile(f"package/{name}").read()
    official = json.loads(files.pop("pyodide-lock.json"))
    pyodide = {**files, "pyodide-lock.json": json.dumps(official).encode()}  # what runs Python in Node
    lock = {"info": official["info"], "packages": {}}

    carrier = pins["carrier"]
    with zipfile.ZipFile(fetch(carrier["url"], carrier["sha256"], cache)) as wheel:
        for name in carrier["packages"]:
            entry = official["packages"][name]
            data = wheel.read(carrier["folder"] + entry["file_name"])
            actual = hashlib.sha256(data).hexdigest()
            if actual != entry["sha256"]:
                raise BuildError(f"{entry['file_name']} in {carrier['url']} has sha256 {actual}, but the official "
                                 f"Pyodide {core['version']} lock says {entry['sha256']}; refusing to ship it")
            if carrier.get("leave_out"):
                data = repacked(data, zipfile.ZIP_DEFLATED, carrier["leave_out"])
            files[entry["file_name"]] = data
            lock["packages"][name] = dict(entry)

    for pin in pins["wheel"]:
        wheel = fetch(pin["url"], pin["sha256"], cache)
        files[wheel.name] = wheel.read_bytes()
        lock["packages"][pin["name"]] = {
            "name": pin["name"], "version": wheel.name.split("-")[1], "file_name": wheel.name,
            "install_dir": "site", "package_type": "package", "imports": pin["imports"], "depends": pin["depends"],
            "unvendored_tests": False, "shared_library": False}
    # Every wheel's Python, and the standard library's, compiled here once rather than in the tab at every start.
    wheels = {entry["file_name"]: files[entry["file_name"]] for entry in lock["packages"].values()}
    files.update(precompiled(wheels, pyodide, cache))
    for entry in lock["packages"].values():
        entry["sha256"] = hashlib.sha256(files[entry["file_name"]]).hexdigest()
    # The worker hands Pyodide its standard library (stdLibURL): the compiled one, under an address of its own.
    lock[STDLIB_ENTRY] = {"file_name": STDLIB, "sha256": hashlib.sha256(files[STDLIB]).hexdigest()}
    for entry in [*lock["packages"].values(), lock[STDLIB_ENTRY]]:
        # Every archive shipped is the build's own bytes (trimmed, compiled), and pyodide/<version>/ is served as
        # immutable: other bytes must come under another address, so the content's hash names the archive.
        data = files.pop(entry["file_name"])
        entry["file_name"] = content_named(entry["file_name"], entry["sha256"])
        files[entry["file_name"]] = data
        twin = repacked(data, zipfile.ZIP_STORED)
        entry["stored_file_name"] = f"{STORED}/{entry['file_name']}"
        files[entry["stored_file_name"]] = twin
        entry["stored_sha256"] = hashlib.sha256(twin).hexdigest()  # the worker checks what it receives
    return files, lock


def content_named(file_name: str, sha256: str) -> str:
    """numpy-2.0.2-cp312-...whl -> numpy-2.0.2-0<8 hex of its sha256>-cp312-...whl (a wheel's build tag, which
    must start with a digit); python_stdlib.zip -> python_stdlib-0<8 hex>.zip."""
    if not file_name.endswith(".whl"):
        stem, _, suffix = file_name.rpartition(".")
        return f"{stem}-0{sha256[:8]}.{suffix}"
    name, version, rest = file_name.split("-", 2)
    return f"{name}-{version}-0{sha256[:8]}-{rest}"


def repacked(wheel: bytes, compression: int, leave_out: list[str] = ()) -> bytes:
    """The wheel's files again, each compressed with `compression`, without those whose paths match a pattern of
    `leave_out` (and without their lines in its RECORD)."""
    left_out = re.compile("|".join(f"(?:{p})" for p in leave_out)) if leave_out else None
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(wheel)) as source, zipfile.ZipFile(out, "w", compression) as kept:
        for info in source.infolist():
            if left_out and left_out.search(info.filename):
                continue
            data = source.read(info)
            if left_out and info.filename.endswith(".dist-info/RECORD"):
                data = b"".join(line for line in data.splitlines(keepends=True)
                                if not left_out.search(line.split(b",", 1)[0].decode()))
            kept.writestr(info, data, compress_type=compression, compresslevel=9)
    return out.getvalue()


# pyodide/<version>/stored/: each wheel again with its files stored, not deflated. Its brotli copy
# (runtime/compress.mjs), one stream over the whole archive, is a quarter to a third smaller than the wheel;
# runtime/src/snapshot.js takes it when the host sends it compressed.
STORED = "stored"


def stored_twin_of(relative: str) -> str:
    """pyodide/<version>/<wheel> -> pyodide/<version>/stored/<wheel>"""
    folder, _, name = relative.rpartition("/")
    return f"{folder}/{STORED}/{name}"


def is_stored_twin(relative: str) -> bool:
    """Whether a site file (path relative to the site) is a wheel's stored twin: never bundled, and precached only
    where the host sends it compressed (runtime/src/sw.js), since otherwise the wheel itself is the smaller
    download."""
    parts = relative.split("/")
    return len(parts) == 4 and parts[0] == "pyodide" and parts[2] == STORED


def precompiled(wheels: dict[str, bytes], core: dict[str, bytes], cache: Path) -> dict[str, bytes]:
    """The wheels (by file name) and Pyodide's standard library (STDLIB) with bytecode instead of source, compiled
    once by the tab's own Python (in Node)."""
    recipe = hashlib.sha256((ROOT / "runtime" / "precompile.mjs").read_bytes() + core["pyodide.asm.wasm"][:1 << 16])
    for name, data in sorted({**wheels, STDLIB: core[STDLIB]}.items()):
        recipe.update(name.encode() + hashlib.sha256(data).digest())
    out = cache / f"precompiled-{recipe.hexdigest()[:16]}"
    if not out.is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in {**core, **{f"wheels/{n}": d for n, d in wheels.items()}}.items():
                (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / name).write_bytes(data)
            (Path(tmp) / "out").mkdir()
            _run("node", ROOT / "runtime" / "precompile.mjs", tmp, Path(tmp) / "out",
                 *(Path(tmp) / "wheels" / name for name in wheels))
            shutil.copytree(Path(tmp) / "out", out)
    return {name: (out / name).read_bytes() for name in [*wheels, STDLIB]}


# --- the pieces of the site -------------------------------------------------------------------------------------
def bundle_front_end(out: Path) -> None:
    """The page script and the worker, bundled by runtime/bundle.mjs with esbuild (packages from package-lock.json)."""
    _run("node", ROOT / "runtime" / "bundle.mjs", out)
    for sheet in ("course.css", "embed.css"):
        shutil.copy(ROOT / "runtime" / "src" / sheet, out / sheet)
    shutil.copy(ROOT / "node_modules" / "uplot" / "dist" / "uPlot.min.css", out / "uplot.css")


def load_course(path: Path | None = None):
    """The course this build makes (course.toml; the whole curriculum without one)."""
    sys.path.insert(0, str(ROOT))
    from tinytorch_wasm import course
    return course.load(path)


def course_archive(course) -> bytes:
    """What the worker unpacks: the harness and the curriculum's Python files and data, in the repository layout,
    without the reference solutions the course withholds (tinytorch_wasm/course.py decides what ships). Its files
    are stored, not deflated: inflating its 120-odd entries one stream each took 0.1-0.2 s of every start, and the
    host's brotli over the whole archive makes it smaller on the wire than per-file deflate."""
    from tinytorch_wasm.course import archive_files
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, source in archive_files(course, ROOT).items():
            archive.write(source, name) if isinstance(source, Path) else archive.writestr(name, source)
    return buffer.getvalue()


def with_rewritten_tests(archive: bytes, runtime: dict[str, bytes], lock: dict, cache: Path = CACHE) -> bytes:
    """The course archive and its test files as pytest rewrites them, rewritten once here by the tab's own Python
    and pytest (runtime/rewrite-tests.mjs in Node, on the site's runtime files); cached by what goes in."""
    script = ROOT / "runtime" / "rewrite-tests.mjs"
    key = hashlib.sha256(archive + script.read_bytes() + json.dumps(lock, sort_keys=True).encode()).hexdigest()[:16]
    rewritten = cache / f"rewritten-tests-{key}.zip"
    if not rewritten.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "runtime"
            for name, data in {**runtime, "pyodide-lock.json": json.dumps(lock).encode()}.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)
            (Path(tmp) / "course.zip").write_bytes(archive)
            _run("node", script, folder, Path(tmp) / "course.zip", Path(tmp) / "rewritten.zip")
            shutil.copy(Path(tmp) / "rewritten.zip", rewritten)
    buffer = io.BytesIO(archive)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_STORED) as course, zipfile.ZipFile(rewritten) as extra:
        for entry in extra.infolist():
            course.writestr(entry, extra.read(entry))
    return buffer.getvalue()


def course_manifest(course) -> dict:
    """What the page needs about each module: its starter (for the editor and Reset), its exercises, and whether
    its reference ships (the fallback and the mine/reference switch exist only where it does)."""
    from tinytorch_wasm import curriculum
    modules = []
    for m in course.modules:
        starter = m.starter_source()
        modules.append({"id": m.id, "slug": m.slug, "title": m.title, "summary": m.summary,
                        "packagePath": m.package_path, "requires": list(m.requires),
                        "exercises": [{"id": e.id, "title": e.title} for e in m.exercises],
                        "scratch": m.scratch, "reference": course.ships_solution(m.id),
                        "starter": starter, "starterHash": curriculum.source_hash(starter),
                        "artifacts": list(m.artifacts), "url": f"modules/{m.id}-{m.slug}/",
                        "results": [{"name": r.name, "title": r.title, "schemaFile": r.schema,
                                     "schema": json.loads((m.folder / r.schema).read_text())} for r in m.results]})
    landmarks = [{"id": m.id, "slug": m.slug, "title": m.title, "year": m.year, "requires": m.requires,
                  "criterion": m.criterion, "metric": m.metric, "target": m.target, "summary": m.summary,
                  "criteria": [dataclasses.asdict(c) for c in m.criteria], "configs": list(m.configs),
                  "artifacts": list(m.artifacts), "interact": m.interact,
                  "url": f"milestones/{m.id}-{m.slug}/"} for m in course.milestones]
    return {"schema": 1, "title": course.title, "modules": modules, "milestones": landmarks}


def build_site(assets_version: str, pyodide_version: str, dist: Path = DIST, course_file: Path | None = None) -> None:
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config
    config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(dist))
    config["extra"]["tt"] = {"version": assets_version, "pyodide": pyodide_version,
                             "course": str(course_file) if course_file else ""}
    config.plugins.on_startup(command="build", dirty=False)
    try:
        mkdocs_build(config)
    finally:
        config.plugins.on_shutdown()


COMPRESSED = (".br", ".gz")  # copies of a site file, written by runtime/compress.mjs


def site_files(dist: Path = DIST) -> list[Path]:
    """Every file of the built site, without the compressed copies beside them."""
    return sorted(p for p in dist.rglob("*") if p.is_file() and p.suffix not in COMPRESSED)


def write_service_worker(pyodide_version: str, assets_version: str, dist: Path = DIST) -> str:
    """sw.js at the site root: precaches every file of this build under a cache named by its content hash."""
    digest = hashlib.sha256()
    files = []
    # mkdocs-material's search in other languages than the course's (English): never loaded, so not precached.
    unused_search = dist / "assets" / "javascripts" / "lunr"
    for path in (p for p in site_files(dist) if not p.name.endswith(".map") and not p.is_relative_to(unused_search)
                 and not is_stored_twin(p.relative_to(dist).as_posix())):
        rel = path.relative_to(dist).as_posix()
        digest.update(rel.encode() + sha256_of(path).encode())
        files.append(rel)
    version = digest.hexdigest()[:16]
    policy = (dist / "assets" / "tt" / "worker-policy.txt").read_text()  # written by site/hooks/security.py
    twins = {f: stored_twin_of(f) for f in files if (dist / stored_twin_of(f)).is_file()}  # wheel -> its twin
    build_facts = {"version": version, "assets": assets_version, "pyodide": pyodide_version, "files": files,
                   "twins": twins, "workerPolicy": policy}
    header = f"const BUILD = {json.dumps(build_facts)};\n"
    (dist / "sw.js").write_text(header + (ROOT / "runtime" / "src" / "sw.js").read_text())
    return version


def build(dist: Path = DIST, course_file: Path | None = None) -> None:
    course = load_course(course_file)
    pins = tomllib.loads(PINS.read_text())
    version = pins["pyodide"]["version"]
    files, lock = runtime_files(pins)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp)
        bundle_front_end(staged / "assets" / "tt")
        (staged / "course").mkdir()
        (staged / "course" / "course.zip").write_bytes(with_rewritten_tests(course_archive(course), files, lock))
        (staged / "course" / "course.json").write_text(json.dumps(course_manifest(course)))
        assets_digest = hashlib.sha256()
        for path in sorted(p for p in staged.rglob("*") if p.is_file()):
            assets_digest.update(path.read_bytes())
        assets_version = assets_digest.hexdigest()[:12]  # in the address of what the pages fetch (?v=)
        build_site(assets_version, version, dist, course_file)
        shutil.copytree(staged, dist, dirs_exist_ok=True)
    runtime_dir = dist / "pyodide" / version
    runtime_dir.mkdir(parents=True)
    for name, data in files.items():
        (runtime_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (runtime_dir / name).write_bytes(data)
    (runtime_dir / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True))
    sw_version = write_service_worker(version, assets_version, dist)
    # Compressed copies for servers that can send them (runtime/serve.py does); after the service worker's list,
    # which names each file once, as the browser sees it.
    _run("node", ROOT / "runtime" / "compress.mjs", dist, CACHE / "compressed")
    size = sum(p.stat().st_size for p in site_files(dist))
    print(f"built {dist} ({size / 1e6:.1f} MB, build {sw_version})")


def bundle(dist: Path = DIST, out: Path = OFFLINE_ZIP) -> Path:
    """A zip to unpack anywhere and open with `python serve.py`: workers do not run from file://."""
    readme = (ROOT / "runtime" / "OFFLINE.txt").read_text()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in site_files(dist):  # served from this computer: nothing to gain from compressed copies
            if is_stored_twin(path.relative_to(dist).as_posix()):
                continue
            archive.write(path, "tinytorch-course/site/" + path.relative_to(dist).as_posix())
        archive.write(ROOT / "runtime" / "serve.py", "tinytorch-course/serve.py")
        archive.writestr("tinytorch-course/README.txt", readme)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return out


def _option(argv: list[str], name: str) -> Path | None:
    """Take `name VALUE` out of argv (the rest goes on to serve, pytest or the bench)."""
    if name not in argv:
        return None
    at = argv.index(name)
    value = Path(argv[at + 1])
    del argv[at:at + 2]
    return value


def main(argv: list[str]) -> int:
    argv = list(argv)
    course_file = _option(argv, "--course")
    command = argv[0] if argv else "build"
    if command not in ("build", "serve", "bundle", "test", "bench", "autograder"):
        print(__doc__)
        return 2
    try:
        ensure_environment(need_browser=command in ("test", "bench"))
        if command == "autograder":
            from tinytorch_wasm.grading.gradescope import write_autograder
            write_autograder(ROOT / "tinytorch-autograder.zip", load_course(course_file), course_file,
                             private_tests=_option(argv, "--tests"), weights=_option(argv, "--weights"))
            return 0
        build(course_file=course_file)
    except BuildError as error:
        print(f"build failed: {error}", file=sys.stderr)
        return 1
    if command == "bundle":
        bundle()
    elif command == "serve":
        sys.path.insert(0, str(ROOT / "runtime"))
        from serve import main as serve_main
        serve_main(["--dir", str(DIST), *argv[1:]])
    elif command == "bench":
        sys.path.insert(0, str(ROOT / "tests" / "e2e"))
        from benchmark import main as bench_main
        return bench_main(argv[1:], offline_zip=bundle())
    elif command == "test":
        bundle()
        return subprocess.run([sys.executable, "-m", "pytest", "tests", *argv[1:]], cwd=ROOT).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
