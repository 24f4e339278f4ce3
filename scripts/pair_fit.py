"""Fit the default pair model on the tuning folds of both development sets and write it.

    python scripts/pair_fit.py [--data-dir eval/.cache] [--out app/data/pair_model.json] [--features raw]

The sets' pair tables are built into --data-dir the first time (encoding every passage with the
real encoders: minutes) and read from there afterwards; the fit takes a minute or two. The
held-out folds are never read here: `koppelkans eval` reports on them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.matching.pair_eval import FEATURE_SETS, fit_development_model
from app.matching.pair_model import DEFAULT_MODEL_PATH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("eval/.cache"))
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--features", choices=list(FEATURE_SETS), default="raw",
                        help="What the model reads (the packaged model: raw)")
    args = parser.parse_args()
    model = fit_development_model(args.data_dir, progress=True, features=FEATURE_SETS[args.features])
    model.save(args.out)
    print(f"wrote {args.out} (version {model.version})")
    print(json.dumps(model.cv_metrics, indent=2))


if __name__ == "__main__":
    main()
