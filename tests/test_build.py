"""The build: pinned runtime files are checked, the built site is self-contained, the server sends its headers."""
import hashlib
import io
import gzip
import json
import re
import threading
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

import build
from conftest import ROOT

PINS = tomllib.loads(build.PINS.read_text())
DIST = build.DIST


def test_no_two_test_files_share_a_name():
    # pytest's rootdir-less layout imports tests by basename: a repeated name stops collection on a clean clone.
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_a_tampered_cached_file_is_rejected_with_what_and_where(tmp_path):
    pin = PINS["wheel"][0]
    name = pin["url"].rsplit("/", 1)[-1]
    (tmp_path / name).write_bytes(b"not the real wheel")
    with pytest.raises(build.BuildError) as error:
        build.fetch(pin["url"], pin["sha256"], tmp_path)
    message = str(error.value)
    assert name in message and pin["sha256"] in message and hashlib.sha256(b"not the real wheel").hexdigest() in message


def test_an_unreachable_source_stops_the_build_naming_it(tmp_path):
    url = "http://127.0.0.1:9/pytest-0-py3-none-any.whl"
    with pytest.raises(build.BuildError, match=re.escape(f"could not download pytest-0-py3-none-any.whl from {url}")):
        build.fetch(url, "0" * 64, tmp_path)
    assert not list(tmp_path.iterdir()), "a failed download left a file behind"


def test_a_carried_wheel_must_match_the_official_lock(tmp_path):
    """A carrier whose NumPy differs from the official Pyodide lock is refused, even with its own sha256 pinned."""
    core = build.fetch(PINS["pyodide"]["url"], PINS["pyodide"]["sha256"])
    (tmp_path / core.name).symlink_to(core)
    fake = io.BytesIO()
    with zipfile.ZipFile(fake, "w") as carrier:
        carrier.writestr(PINS["carrier"]["folder"] + "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl", b"evil")
    (tmp_path / "carrier.whl").write_bytes(fake.getvalue())
    pins = {**PINS, "wheel": [], "carrier": {**PINS["carrier"], "url": "https://example.invalid/carrier.whl",
                                             "sha256": hashlib.sha256(fake.getvalue()).hexdigest()}}
    with pytest.raises(build.BuildError, match="numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl .* official"):
        build.runtime_files(pins, tmp_path)


@pytest.fixture(scope="module")
def dist():
    if not (DIST / "index.html").exists():
        pytest.fail("dist/ is not built: run the tests with `python build.py test`")
    return DIST


def test_the_trimmed_lock_lists_exactly_the_shipped_files(dist):
    folder = dist / "pyodide" / PINS["pyodide"]["version"]
    lock = json.loads((folder / "pyodide-lock.json").read_text())
    assert lock["info"]["version"] == PINS["pyodide"]["version"]
    wheels = {p.name for p in folder.glob("*.whl")}
    assert wheels == {entry["file_name"] for entry in lock["packages"].values()}
    for entry in lock["packages"].values():
        assert hashlib.sha256((folder / entry["file_name"]).read_bytes()).hexdigest() == entry["sha256"]
    assert lock["packages"]["pytest"]["version"] == "8.3.5" and lock["packages"]["numpy"]["version"] == "2.0.2"


def test_nothing_is_loaded_from_another_host(dist):
    """Scripts, styles, fonts, images and workers all come from the site itself."""
    loads = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.I)
    css_url = re.compile(r"url\(\s*['\"]?(?:https?:)?//", re.I)
    for page in dist.rglob("*.html"):
        assert not loads.search(page.read_text()), f"{page} loads something from another host"
    for sheet in dist.rglob("*.css"):
        assert not css_url.search(sheet.read_text()), f"{sheet} loads something from another host"
    # The course's own scripts name no other host at all, not even in a string, so a CDN fallback cannot hide there.
    for script in (dist / "assets" / "tt").glob("*.js"):
        named = set(re.findall(r"(?:https?:)?//([a-z0-9.-]+\.[a-z]{2,})", script.read_text(), re.I))
        assert not named, f"{script} names other hosts: {sorted(named)}"


def test_every_module_has_a_page_with_a_workbench(dist):
    manifest = json.loads((dist / "course" / "course.json").read_text())
    assert [m["id"] for m in manifest["modules"]][:1] == ["01"]
    for module in manifest["modules"]:
        page = (dist / module["url"] / "index.html").read_text()
        assert f'class="tt-workbench" data-module="{module["id"]}"' in page
        assert "raise NotImplementedError" in module["starter"]


def test_the_service_worker_precaches_existing_files(dist):
    sw = (dist / "sw.js").read_text()
    files = json.loads(re.match(r"const BUILD = (\{.*\});", sw).group(1))["files"]
    assert "index.html" in files and "assets/tt/worker.js" in files
    assert all((dist / f).is_file() for f in files)
    # It precaches the versioned files under the addresses the pages use, so the first visit fetches them once.
    assets = json.loads(re.match(r"const BUILD = (\{.*\});", sw).group(1))["assets"]
    page = (dist / "modules" / "01-tensor" / "index.html").read_text()
    assert f"main.js?v={assets}" in page and f"worker.js?v={assets}&pyodide=" in page


@pytest.fixture
def serve(dist):
    servers = []

    def start(isolation):
        server = build_server(dist, isolation)
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/"
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def build_server(dist, isolation):
    import sys
    sys.path.insert(0, str(ROOT / "runtime"))
    from serve import make_server
    server = make_server(dist, 0, isolation)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_server_sends_isolation_and_cache_headers(serve):
    base = serve(True)
    page = urllib.request.urlopen(base + "modules/")
    assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert page.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert page.headers["Cache-Control"] == "no-cache"
    runtime = urllib.request.urlopen(base + f"pyodide/{PINS['pyodide']['version']}/pyodide.asm.wasm")
    assert runtime.headers["Content-Type"] == "application/wasm"
    assert "immutable" in runtime.headers["Cache-Control"]
    versioned = urllib.request.urlopen(base + "course/course.json?v=0123456789ab")  # build.py's content version
    assert "immutable" in versioned.headers["Cache-Control"]
    assert urllib.request.urlopen(base + "course/course.json").headers["Cache-Control"] == "no-cache"
    plain = urllib.request.urlopen(serve(False))
    assert plain.headers["Cross-Origin-Opener-Policy"] is None


@pytest.mark.parametrize("accept, encoding", [("gzip, deflate, br, zstd", "br"), ("gzip", "gzip"), ("", None)])
def test_the_server_sends_the_builds_compressed_copy_the_browser_accepts(serve, dist, accept, encoding):
    base = serve(True)
    for path, file in [(f"pyodide/{PINS['pyodide']['version']}/pyodide.asm.wasm",
                        f"pyodide/{PINS['pyodide']['version']}/pyodide.asm.wasm"),
                       ("modules/01-tensor/", "modules/01-tensor/index.html")]:
        request = urllib.request.Request(base + path, headers={"Accept-Encoding": accept})
        with urllib.request.urlopen(request) as response:
            body = response.read()
            assert response.headers["Content-Encoding"] == encoding and "Accept-Encoding" in response.headers["Vary"]
            assert response.headers["Content-Type"].startswith("application/wasm" if file.endswith(".wasm")
                                                               else "text/html")
        original = (dist / file).read_bytes()
        if encoding is None:
            assert body == original
        elif encoding == "gzip":
            assert gzip.decompress(body) == original
        else:
            assert body == (dist / (file + ".br")).read_bytes() and len(body) < len(original) / 2


def test_compressed_copies_stay_out_of_the_precache_and_the_bundle(dist):
    """So do the wheels' stored twins: only worth fetching compressed, which neither the precache (whatever the host
    does) nor the offline bundle's server (no compressed copies) can count on."""
    sw = (dist / "sw.js").read_text()
    files = json.loads(re.match(r"const BUILD = (\{.*\});", sw).group(1))["files"]
    assert not [f for f in files if f.endswith((".br", ".gz")) or "/stored/" in f]
    assert (dist / "index.html.br").is_file() and (dist / "index.html.gz").is_file()
    with zipfile.ZipFile(build.bundle()) as bundle:
        assert not [n for n in bundle.namelist() if n.endswith((".br", ".gz")) or "/stored/" in n]


def test_every_wheel_and_the_standard_library_have_a_stored_twin_with_the_same_files_and_sha256s_in_the_lock(dist):
    """And each is named by its content: pyodide/<version>/ is served as immutable, so the build's own bytes
    (trimmed, compiled) must never come under an address a browser has cached other bytes for."""
    runtime = next((dist / "pyodide").iterdir())
    lock = json.loads((runtime / "pyodide-lock.json").read_text())
    for entry in [*lock["packages"].values(), lock["stdlib"]]:
        assert f"-0{entry['sha256'][:8]}" in entry["file_name"], entry["file_name"]
        assert build.sha256_of(runtime / entry["file_name"]) == entry["sha256"]
        twin = runtime / entry["stored_file_name"]
        assert build.sha256_of(twin) == entry["stored_sha256"]
        with zipfile.ZipFile(runtime / entry["file_name"]) as wheel, zipfile.ZipFile(twin) as stored:
            assert [(i.filename, i.CRC) for i in wheel.infolist()] == [(i.filename, i.CRC) for i in stored.infolist()]
            assert {i.compress_type for i in stored.infolist()} == {zipfile.ZIP_STORED}
        assert (twin.parent / (twin.name + ".br")).stat().st_size < (runtime / entry["file_name"]).stat().st_size


def test_the_standard_library_ships_as_bytecode_only(dist):
    """Pyodide's python_stdlib.zip holds source, which the tab compiled at every start (about 1 s of a first
    visit); the build ships it compiled by the tab's own Python (runtime/precompile.mjs), and nothing else."""
    runtime = next((dist / "pyodide").iterdir())
    assert not list(runtime.glob("python_stdlib.zip"))  # only under its content's name
    lock = json.loads((runtime / "pyodide-lock.json").read_text())
    with zipfile.ZipFile(runtime / lock["packages"]["pytest"]["file_name"]) as pytest_wheel:
        magic = pytest_wheel.read(next(n for n in pytest_wheel.namelist() if n.endswith(".pyc")))[:4]
    with zipfile.ZipFile(runtime / lock["stdlib"]["file_name"]) as stdlib:
        names = stdlib.namelist()
        compiled = [n for n in names if n.endswith(".pyc")]
        assert len(compiled) > 500 and not [n for n in names if n.endswith(".py")]
        assert {"json/__init__.pyc", "typing.pyc", "zipfile/__init__.pyc"} <= set(compiled)
        assert {stdlib.read(n)[:4] for n in compiled} == {magic}  # the same Python as the wheels'


def test_the_offline_bundle_holds_the_site_and_its_server(dist):
    path = build.bundle()
    with zipfile.ZipFile(path) as bundle:
        names = set(bundle.namelist())
        assert {"tinytorch-course/serve.py", "tinytorch-course/README.txt",
                "tinytorch-course/site/index.html", "tinytorch-course/site/sw.js"} <= names
        assert "python3 serve.py" in bundle.read("tinytorch-course/README.txt").decode()


def test_the_sitemap_lists_every_page_only_when_the_deployed_address_is_set(tmp_path):
    """A sitemap needs absolute addresses: with site_url set every page is listed under it (not the not-found
    page); without it (the default, which works at any address) it lists nothing, rather than wrong addresses (it is
    written all the same: instant navigation asks for it on every page load)."""
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config
    from tinytorch_wasm import curriculum
    for site_url in ("https://example.org/course/", None):
        out = tmp_path / ("with" if site_url else "without")
        config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(out), site_url=site_url)
        config["extra"]["tt"] = {"version": "test", "pyodide": "0"}
        config.plugins.on_startup(command="build", dirty=False)
        try:
            mkdocs_build(config)
        finally:
            config.plugins.on_shutdown()
        if site_url is None:
            assert "<urlset" in (out / "sitemap.xml").read_text()
            assert "<loc>" not in (out / "sitemap.xml").read_text()
            continue
        locs = re.findall(r"<loc>([^<]+)</loc>", (out / "sitemap.xml").read_text())
        assert "https://example.org/course/" in locs and "https://example.org/course/progress/" in locs
        for m in curriculum.modules():
            assert f"https://example.org/course/modules/{m.id}-{m.slug}/" in locs
        assert not any("not-found" in loc for loc in locs)


def test_materials_script_starts_with_the_compile_hint_and_its_source_map_follows_it(dist):
    """site/hooks/compile_hints.py: V8 reads the hint only on a script's first line; the rest is material's script
    as shipped, and its source map is moved down the one line."""
    import material
    originals = list((Path(material.__file__).parent / "templates" / "assets" / "javascripts").glob("bundle.*.min.js"))
    assert originals
    for original in originals:
        built = dist / "assets" / "javascripts" / original.name
        assert built.read_text() == "//# allFunctionsCalledOnLoad\n" + original.read_text()
        mappings = [json.loads(f.with_name(f.name + ".map").read_text())["mappings"] for f in (built, original)]
        assert mappings[0] == ";" + mappings[1]


def test_the_shipped_numpy_leaves_out_what_the_tab_cannot_use(dist):
    """pins.toml's leave_out: no C headers, static libraries, stubs or f2py in the wheel the site ships, nor in its
    RECORD; its lock entry names the wheel as shipped."""
    runtime = next((dist / "pyodide").iterdir())
    entry = json.loads((runtime / "pyodide-lock.json").read_text())["packages"]["numpy"]
    assert build.sha256_of(runtime / entry["file_name"]) == entry["sha256"]
    with zipfile.ZipFile(runtime / entry["file_name"]) as wheel:
        names = wheel.namelist()
        record = wheel.read(next(n for n in names if n.endswith(".dist-info/RECORD"))).decode()
    assert not [n for n in names if n.startswith("numpy/f2py/") or n.endswith((".h", ".pyi", ".a", ".pxd"))]
    assert "numpy/f2py/" not in record and ".pyi," not in record
    assert any(n.startswith("numpy/_core/_multiarray_umath") for n in names) and "numpy/linalg/" in record


def test_the_course_archive_holds_each_test_file_rewritten_by_the_tabs_pytest(dist):
    """Each test file of the course, rewritten by pytest in the tab's own Python (Node, at build time), under the
    name the tab looks it up by (tinytorch_wasm/rewriting.py), and nothing else rewritten."""
    from tinytorch_wasm import rewriting
    lock = json.loads((next((dist / "pyodide").iterdir()) / "pyodide-lock.json").read_text())
    major, minor = lock["info"]["python"].split(".")[:2]
    tag = f"cpython-{major}{minor}-pytest-{lock['packages']['pytest']['version']}"
    with zipfile.ZipFile(dist / "course" / "course.zip") as archive:
        names = archive.namelist()
        tests = [n for n in names if n.startswith("curriculum/") and
                 any(Path(n).match(pattern) for pattern in rewriting.REWRITTEN_FILES)]
        expected = {rewriting.shipped_name(Path("/course") / n, archive.read(n), tag) for n in tests}
        assert len(tests) >= 20
        assert {n for n in names if n.startswith(rewriting.SHIPPED + "/")} == expected
