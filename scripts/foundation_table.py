"""Markdown tables for docs/foundation.md from the folders of scripts/foundation-study.

Each method's accuracy over seeds as seed_bootstrap.hpp defines it: the mean of the per-seed
accuracies, and the 90% percentile interval of the pooled bootstrap resamples (200 per seed, the test
points of each seed resampled with one set of indices for every method, so differences stay paired).
Needs numpy (Debian's python3-numpy: /usr/bin/python3).

    /usr/bin/python3 scripts/foundation_table.py STUDY_ROOT/NAME
"""
import json
import sys
from pathlib import Path

import numpy as np

RESAMPLES = 200


def seed_estimates(folders, methods, diffs):
    """{name: (mean, lo, hi)} for each method and each (a, b) difference a - b, in percent."""
    per_seed, pooled = {}, {}
    for s, folder in enumerate(folders):
        y = np.load(folder / "test_labels.npy")
        correct = {m: (np.load(folder / f"pred_{m}.npy") == y).astype(float) for m in methods}
        rng = np.random.default_rng(s)
        idx = rng.integers(0, len(y), size=(RESAMPLES, len(y)))
        cols = {m: correct[m] for m in methods}
        cols.update({f"{a} - {b}": correct[a] - correct[b] for a, b in diffs})
        for name, c in cols.items():
            per_seed.setdefault(name, []).append(c.mean())
            pooled.setdefault(name, []).extend(c[idx].mean(axis=1))
    return {n: (100 * np.mean(per_seed[n]), 100 * np.percentile(pooled[n], 5), 100 * np.percentile(pooled[n], 95))
            for n in per_seed}


def fmt(v, diff=False):
    m, lo, hi = v
    if diff:
        return f"{m:+.2f} pp [{lo:+.2f}, {hi:+.2f}]"
    return f"{m:.2f} [{lo:.2f}, {hi:.2f}]"


def main():
    root = Path(sys.argv[1])
    runs = sorted(root.glob("run-s*"))
    if runs:
        methods = ["global", "majority", "ttt", "ttt_fixed"]
        est = seed_estimates(runs, methods, [("ttt", "global"), ("majority", "global"), ("ttt", "ttt_fixed")])
        print(f"run --tune --compare-fixed, {len(runs)} seeds")
        print("| method | accuracy (%) |")
        print("| --- | --- |")
        for m in methods:
            print(f"| {m} | {fmt(est[m])} |")
        for d in ["ttt - global", "majority - global", "ttt - ttt_fixed"]:
            print(f"| {d} | {fmt(est[d], True)} |")
        for r in runs:
            j = json.loads((r / "results.json").read_text())
            c = j["selection"]["chosen"]
            h = j["training"]["head"]
            print(f"- {r.name}: TTT k={c['ttt']['k']}, {c['ttt']['steps']} steps, lr={c['ttt']['lr']}; majority "
                  f"k={c['majority']['k']}; head {'converged' if h['converged'] else 'NOT converged'} "
                  f"({h['convergence']}); warnings: {len(j.get('warnings', []))}")
    tables = sorted(root.glob("table1-s*"))
    if tables:
        methods = ["global_psi", "ttt_psi", "global_psi_hat", "ttt_psi_hat", "global_phi_hat", "ttt_phi_hat",
                   "masked_ttt_phi_hat", "nonadaptive_ttt_phi_hat"]
        diffs = [("ttt_psi", "global_psi"), ("ttt_psi_hat", "global_psi_hat"), ("ttt_phi_hat", "global_phi_hat"),
                 ("masked_ttt_phi_hat", "ttt_phi_hat"), ("masked_ttt_phi_hat", "ttt_psi_hat"),
                 ("nonadaptive_ttt_phi_hat", "masked_ttt_phi_hat")]
        est = seed_estimates(tables, methods, diffs)
        print(f"\nreproduce table1, {len(tables)} seeds")
        print("| method | accuracy (%) |")
        print("| --- | --- |")
        for m in methods:
            print(f"| {m} | {fmt(est[m])} |")
        for a, b in diffs:
            print(f"| {a} - {b} | {fmt(est[f'{a} - {b}'], True)} |")
        js = [json.loads((t / "results.json").read_text()) for t in tables]
        def mean(f):
            return np.mean([f(j) for j in js])
        print(f"\nSAE test FVE {mean(lambda j: j['sae']['reconstruction']['test_fve']):.3f}; "
              f"O2 mask size {mean(lambda j: j['o2']['mask_size']):.1f} of "
              f"{mean(lambda j: j['o2']['neighborhood_concepts']):.1f} neighbourhood concepts, keeps "
              f"{mean(lambda j: j['o2']['kept_test_concepts']):.1f} of {mean(lambda j: j['o2']['test_concepts']):.1f}; "
              f"O3 agreement {100 * mean(lambda j: j['o3']['agreement']):.1f}%; "
              f"O1 cosine psi/psi_hat/phi_hat "
              + "/".join(f"{mean(lambda j, s=s: j['o1']['mean_cosine_in_phi_hat'][s]['mean']):.3f}"
                         for s in ["psi", "psi_hat", "phi_hat"]))
    sm = root / "scale-model" / "scale_model.json"
    if sm.exists():
        rows = json.loads(sm.read_text())["rows"]
        widths = sorted({r["x"]["hidden"] for r in rows})
        print("\nscale model (MLP heads, Tables 7-8)")
        print("| hidden width | global | majority | TTT | TTT - global |")
        print("| --- | --- | --- | --- | --- |")
        for w in widths:
            v = {r["metric"]: r for r in rows if r["x"]["hidden"] == w}
            def cell(m, diff=False):
                r = v[m]
                return fmt((100 * r["value"], 100 * r["ci90"][0], 100 * r["ci90"][1]), diff)
            print(f"| {w} | {cell('global')} | {cell('majority')} | {cell('ttt')} | {cell('ttt - global', True)} |")


if __name__ == "__main__":
    main()
