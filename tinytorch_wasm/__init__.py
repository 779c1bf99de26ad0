"""The course harness: runs in the browser tab (Pyodide) and on CPython."""
