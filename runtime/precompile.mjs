// Build step (run by build.py with Node): compile pure-Python wheels to bytecode with the very Python the tab runs
// (Pyodide's CPython 3.12), so the tab imports pytest without compiling it on every visit.
//
//   node runtime/precompile.mjs PYODIDE_DIR OUT_DIR WHEEL...
//
// Each wheel is rewritten with `module.pyc` in place of `module.py` (bytecode beside where the source was, which
// Python imports directly), hash-based and with fixed timestamps, so the same input always gives the same bytes.
import fs from "node:fs";
import path from "node:path";

const [pyodideDir, outDir, ...wheels] = process.argv.slice(2);
const { loadPyodide } = await import(path.resolve(pyodideDir, "pyodide.mjs"));
const py = await loadPyodide({ indexURL: path.resolve(pyodideDir) + "/", stdout: () => {}, stderr: console.error });
const compile = py.runPython(`
import io, py_compile, zipfile

def compile_wheel(data):
    source = zipfile.ZipFile(io.BytesIO(data.to_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as wheel:
        for info in sorted(source.infolist(), key=lambda i: i.filename):
            name, content = info.filename, source.read(info)
            if name.endswith(".py") and ".dist-info/" not in name:
                with open("/tmp/module.py", "wb") as f:
                    f.write(content)
                py_compile.compile("/tmp/module.py", cfile="/tmp/module.pyc", dfile=name, doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
                name, content = name + "c", open("/tmp/module.pyc", "rb").read()
            wheel.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), content, zipfile.ZIP_DEFLATED)
    return out.getvalue()

compile_wheel
`);
for (const wheel of wheels) {
  const result = compile(new Uint8Array(fs.readFileSync(wheel)));
  fs.writeFileSync(path.join(outDir, path.basename(wheel)), result.toJs());
  result.destroy();
}
