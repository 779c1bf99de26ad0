// Build step (run by build.py with Node): compile Python source to bytecode with the very Python the tab runs
// (Pyodide's CPython 3.12), so the tab does not compile the same modules again on every first visit.
//
//   node runtime/precompile.mjs PYODIDE_DIR OUT_DIR WHEEL...
//
// Each wheel (NumPy's too: its compiled libraries stay as they are), and Pyodide's standard library
// (PYODIDE_DIR/python_stdlib.zip: Python compiled the modules it imports from there at every start, about 1 s of a
// first visit), is rewritten into OUT_DIR with `module.pyc` in place of `module.py` (bytecode where the source was,
// which Python imports directly), hash-based and with fixed timestamps, so the same input always gives the same
// bytes.
import fs from "node:fs";
import path from "node:path";

const [pyodideDir, outDir, ...wheels] = process.argv.slice(2);
const { loadPyodide } = await import(path.resolve(pyodideDir, "pyodide.mjs"));
const py = await loadPyodide({ indexURL: path.resolve(pyodideDir) + "/", stdout: () => {}, stderr: console.error });
const [compileArchive, stdlibPrefix] = py.runPython(`
import io, py_compile, sys, zipfile

def compile_archive(data, shown_as):
    """The archive's .py files (not its .dist-info's) as .pyc; tracebacks name each file \`shown_as\` + its path."""
    source = zipfile.ZipFile(io.BytesIO(data.to_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in sorted(source.infolist(), key=lambda i: i.filename):
            name, content = info.filename, source.read(info)
            if name.endswith(".py") and ".dist-info/" not in name:
                with open("/tmp/module.py", "wb") as f:
                    f.write(content)
                py_compile.compile("/tmp/module.py", cfile="/tmp/module.pyc", dfile=shown_as + name, doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
                name, content = name + "c", open("/tmp/module.pyc", "rb").read()
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), content, zipfile.ZIP_DEFLATED)
    return out.getvalue()

# Where Pyodide puts the standard library's zip, as its modules' paths name it when imported from source.
compile_archive, "/lib/python%d%d.zip/" % sys.version_info[:2]
`).toJs();

const compile = (file, shownAs, out) => {
  const result = compileArchive(new Uint8Array(fs.readFileSync(file)), shownAs);
  fs.writeFileSync(path.join(outDir, out), result.toJs());
  result.destroy();
};
for (const wheel of wheels) compile(wheel, "", path.basename(wheel));
compile(path.join(pyodideDir, "python_stdlib.zip"), stdlibPrefix, "python_stdlib.zip");
