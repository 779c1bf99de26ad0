"""JSON results a module's page saves to the learner's progress, such as the capstone's submission.

A module declares each one in its module.toml, with a JSON schema and a re-check, both files of the module folder:

    [[results]]
    name = "capstone-submission"      # unique in the course
    title = "Capstone submission"
    schema = "submission.schema.json"
    recheck = "recheck.py"            # def recheck(name: str, claimed: dict) -> dict:
    """The module's re-check of a claimed result, run with the learner's package importable: what its
    recheck(claimed, module) returns. Check the claim with `problems` first: a re-check reads valid claims only.
    The grader runs it in a confined process of its own (tinytorch_wasm.grading.unit)."""
    module, result = declared(name)
    spec = importlib.util.spec_from_file_location(f"_recheck_{module.slug}", module.folder / result.recheck)
    code = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(code)
    return code.recheck(claimed, module)
