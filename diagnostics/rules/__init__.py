"""One module per rule, discovered: importing this package registers every rule module in it.

A module whose name starts with ``_`` holds shared helpers, not a rule. The ids (as in the
design's RULES.md) and everything else about a rule are declared on its class.
"""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_module}")
