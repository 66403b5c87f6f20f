"""Write today's fault-injected logs as a labelled population ``bench/calibrate.py`` can read.

    python bench/fault_index.py --out DIR [--libs ...] [--scenarios ...]
    python bench/calibrate.py --population DIR --split calib --sweep

``bench/fault_logs.build`` trains and writes each (library, scenario) log and confirms its
label from the numbers; this writes ``DIR/index.jsonl`` in the population format (one JSON
per line: ``id``, ``path`` relative to DIR, ``labels``, ``split`` from ``bench.splits.split_of``).
Runs whose fault did not show in the numbers are left out, as fault_logs leaves them unscored.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fault_logs import LABEL_RULES, build  # noqa: E402
from bench.fault_writers import SCENARIOS, WRITERS  # noqa: E402
from bench.splits import split_of  # noqa: E402


def labels_for(label: str | None) -> dict[str, object]:
    """Every scored label by construction: the injected one true, the others false; healthy when none."""
    out: dict[str, object] = {name: name == label for name, _ in LABEL_RULES}
    out["healthy"] = label is None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--libs", nargs="*", default=list(WRITERS), choices=list(WRITERS))
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    args = ap.parse_args(argv)
    out = args.out.resolve()
    cases = build(args.libs, args.scenarios, out, log=print)
    lines = []
    for case in cases:
        if case.dropped or case.path is None:
            continue
        run_id = f"{case.lib}-{case.scenario.name}"
        lines.append(json.dumps({"id": run_id, "path": str(Path(case.path).resolve().relative_to(out)),
                                 "labels": labels_for(case.scenario.label), "split": split_of(run_id),
                                 "lib": case.lib, "scenario": case.scenario.name}))
    (out / "index.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} runs indexed in {out / 'index.jsonl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
