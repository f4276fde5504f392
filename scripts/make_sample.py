"""Write the synthetic Kunming sample (示例数据，合成) into a folder, without running the pipeline.

Usage::

    python scripts/make_sample.py OUT_DIR [--parcels 30000] [--seed 2023]

The folder then holds ``demo.gpkg``, the rasters and ``demo.yml``; ``kmrv run OUT_DIR/demo.yml --out
RESULTS`` analyses it. ``kmrv demo`` does both steps at once. Sizes 1,000 … 1,000,000 parcels; the same
seed and size always give the same layers.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmrv_geo.sample import make_sample  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, write the sample and print what was written (JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--parcels", type=int, default=30_000, help="about how many 2022 parcels (default 30000)")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        info = make_sample(args.out_dir, n_parcels=args.parcels, seed=args.seed, progress=not args.quiet)
    except ValueError as exc:
        print(f"make_sample.py: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"out_dir": str(info.out_dir), "config": str(info.config_path), "layers": info.counts,
                      "injected_changes": info.changes, "abandoned": info.abandoned, "decoys": info.decoys,
                      "seconds": round(info.seconds, 1)}, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
