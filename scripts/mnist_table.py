#!/usr/bin/env python3
"""Prints the README's MNIST tables (Markdown) from the sweep files in a results folder.

usage: scripts/mnist_table.py [DIR]     (default: docs/results/mnist)

DIR holds the outputs of the runs listed in README.md's MNIST section:
  e2-ep1/scale_k.json   TinyLeNet trained 1 epoch, E.2's TTT (k 100, 100 steps, lr 0.1), 3 seeds
  e2/scale_k.json       TinyLeNet trained with Table 3's budget (100 epochs), E.2's TTT, 3 seeds
  t4/scale_k.json       the same networks, Table 4's TTT (k 50, 200 steps, lr 1e-3), 3 seeds
  table2/locality_table.json   Table 2 with a LeNet (size_scale 1), 3 seeds
The paper's numbers beside them are from its Appendix E.2 and Table 2. Standard library only.
"""
import json
import sys
from pathlib import Path

PAPER_E2 = {"global": 94.51, "ttt": 97.62}
PAPER_TABLE2 = {"global": 98.57, "ttt on the test point": 99.01, "ttt on its neighbourhood": 100.00,
                "global ttt": 36.38}


def rows(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {r["metric"]: r for r in data["rows"]}


def pct(row: dict, signed: bool = False) -> str:
    v, (lo, hi) = 100 * row["value"], row["ci90"]
    if signed:
        return f"{v:+.2f} pp [{100 * lo:+.2f}, {100 * hi:+.2f}]"
    return f"{v:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]"


def main(argv: list) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "docs/results/mnist"
    try:
        ep1, e2, t4 = (rows(root / d / "scale_k.json") for d in ("e2-ep1", "e2", "t4"))
        t2 = rows(root / "table2" / "locality_table.json")
    except (OSError, ValueError, KeyError) as e:
        print(f"mnist_table: {root}: cannot read the sweep files ({e})", file=sys.stderr)
        return 2
    print("| TinyLeNet (size_scale 0.5) | global | TTT | TTT - global (paired) | majority vote (k as TTT) |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| paper, E.2 | {PAPER_E2['global']:.2f} | {PAPER_E2['ttt']:.2f} | "
          f"{PAPER_E2['ttt'] - PAPER_E2['global']:+.2f} pp | - |")
    for name, r in (("ours, trained 1 epoch; E.2's TTT", ep1),
                    ("ours, Table 3's budget (100 epochs); E.2's TTT", e2),
                    ("ours, Table 3's budget; Table 4's TTT", t4)):
        print(f"| {name} | {pct(r['global'])} | {pct(r['ttt'])} | {pct(r['ttt - global'], signed=True)} | "
              f"{pct(r['majority'])} |")
    print()
    print("| Table 2 (LeNet) | global | TTT on the test point | TTT on its neighbourhood | global TTT (10 random heads) |")
    print("| --- | --- | --- | --- | --- |")
    keys = ("global", "ttt on the test point", "ttt on its neighbourhood", "global ttt")
    print("| paper | " + " | ".join(f"{PAPER_TABLE2[k]:.2f}" for k in keys) + " |")
    print("| ours (size_scale 1) | " + " | ".join(pct(t2[k]) for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
