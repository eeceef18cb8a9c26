"""The course's tooling: release student notebooks, and grade their hand-ins with nbgrader."""

import sys

# jsonschema compiles the grammars of rfc3987-syntax, an optional format checker that jupyter's
# packages install, when nbformat first imports it: 1.7 s at every start of this package, for
# the "iri" formats that neither nbformat's nor nbgrader's schemas use. Without the module,
# jsonschema skips those formats and nothing else changes.
sys.modules.setdefault("rfc3987_syntax", None)
