# The machinery lives in the package; this file only wires it into every pytest run from the repo root.
pytest_plugins = ("anyint_conformance.faces.plugin",)
