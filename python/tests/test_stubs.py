"""The compiled module's stubs (h4mk/_h4mk.pyi, which mypy checks against in
ctest's python_types) name exactly what the module has: a binding added or
renamed without its stub fails here."""
import ast
import pathlib

import h4mk
from h4mk import _h4mk


def test_the_stubs_name_what_the_compiled_module_has():
    stub = pathlib.Path(h4mk.__file__).with_name("_h4mk.pyi")
    tree = ast.parse(stub.read_text())
    stubbed = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            stubbed[node.name] = {n.name for n in node.body
                                  if isinstance(n, ast.FunctionDef) and not n.name.startswith("__")}
        elif isinstance(node, ast.FunctionDef):
            stubbed[node.name] = None
    public = {n for n in dir(_h4mk) if not n.startswith("_")}
    assert set(stubbed) == public - {"library_version"}
    for name, methods in stubbed.items():
        if methods is not None and name != "Block":
            have = {n for n in dir(getattr(_h4mk, name)) if not n.startswith("__")}
            assert methods == have, name
