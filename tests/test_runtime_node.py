"""The runtime's JavaScript parts that have tests of their own beside them (runtime/kernels/*.test.mjs,
runtime/src/*.test.mjs) pass them in Node."""
import subprocess

from conftest import ROOT


def test_the_runtime_parts_pass_their_own_tests_in_node():
    tests = sorted(str(p.relative_to(ROOT)) for folder in ("kernels", "src")
                   for p in (ROOT / "runtime" / folder).glob("*.test.mjs"))
    assert any("kernels" in t for t in tests) and any("checksum" in t for t in tests), tests
    result = subprocess.run(["node", "--test", *tests], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout
