"""Regenerate tests/data/kwant_reference.npz from Kwant 1.5 (build it with scripts/build_kwant.sh).

Usage: python scripts/make_kwant_reference.py   (a few seconds; the file is ~60 kB)
"""
from pathlib import Path
import sys

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "core"))
from kwant_cases import N_CASES, case, kwant_values  # noqa: E402


def main() -> None:
    import kwant

    arrays = {"kwant_version": np.array(kwant.__version__)}
    for index in range(N_CASES):
        for name, value in kwant_values(case(index)).items():
            arrays[f"case{index:02d}_{name}"] = value
    target = ROOT / "tests" / "data" / "kwant_reference.npz"
    np.savez_compressed(target, **arrays)
    print(f"wrote {target} ({target.stat().st_size / 1024:.0f} kB) from Kwant {kwant.__version__}")


if __name__ == "__main__":
    main()
