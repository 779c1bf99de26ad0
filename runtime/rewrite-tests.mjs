// Build step (run by build.py with Node): pytest's assertion rewriting of the course's test files, done once by the
// tab's own Python and pytest (the site's runtime folder), so no visit rewrites them again at its first Run tests
// (tinytorch_wasm/rewriting.py says how the tab finds them).
//
//   node runtime/rewrite-tests.mjs RUNTIME_DIR COURSE_ZIP OUT_ZIP
//
// The course is unpacked at /course, where the tab unpacks it, so the code names each file where the tab has it.
// OUT_ZIP holds the archive entries to add (rewritten/<python>-pytest-<version>/<key>.marshal), with fixed dates,
// so the same course always gives the same bytes.
import fs from "node:fs";
import path from "node:path";

const [runtimeDir, courseZip, outZip] = process.argv.slice(2);
const { loadPyodide } = await import(path.resolve(runtimeDir, "pyodide.mjs"));
const { stdlib } = JSON.parse(fs.readFileSync(path.join(runtimeDir, "pyodide-lock.json"), "utf8"));
const py = await loadPyodide({ indexURL: path.resolve(runtimeDir) + "/", stdLibURL: path.resolve(runtimeDir,
  stdlib.file_name), stdout: () => {}, stderr: console.error });
await py.loadPackage("pytest", { messageCallback: () => {} });
py.FS.writeFile("/tmp/course.zip", fs.readFileSync(courseZip));
const rewritten = py.runPython(`
import io, sys, zipfile
zipfile.ZipFile("/tmp/course.zip").extractall("/course")
sys.path.insert(0, "/course")
from tinytorch_wasm.rewriting import rewrite_course
out = io.BytesIO()
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
    for name, data in sorted(rewrite_course().items()):
        archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
out.getvalue()
`);
fs.writeFileSync(outZip, rewritten.toJs());
rewritten.destroy();
