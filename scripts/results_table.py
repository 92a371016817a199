#!/usr/bin/env python3
"""Markdown tables from the results.json files of `tttlab run`, as the README shows them, so that
the README's numbers are generated rather than typed. Standard library only.

  scripts/results_table.py RESULTS.json
      method | accuracy | CI | mean CE: global, majority vote, TTT, then the paired comparisons.
  scripts/results_table.py A.json B.json [--label "" --label "E.2 protocol"]
      the same, with the global and majority-vote rows of A and the TTT rows of every file, each
      TTT row named by its settings (and its --label, given once per file in order); all files
      must share the data set and the global head (the same global accuracy), or the TTT rows
      would not compare with one global row.
  scripts/results_table.py --by-settings A.json B.json ...
      one row per file: k | steps | lr | TTT accuracy | TTT - global, CI | TTT mean CE.
  scripts/results_table.py --fixed-tuned-adaptive A.json B.json ...
      one row per file of `tttlab run --tune --compare-fixed --adaptive`: the data set, global,
      fixed, tuned and adaptive TTT accuracy, the paired differences tuned - fixed and adaptive -
      tuned with their CIs, and TTT's arithmetic per test point of each.
  scripts/results_table.py --selection A.json
      the validation scores of a --tune run: one row per (k, lr) with the accuracy after each
      step count of the grid, the chosen configuration marked.

With a single file, the method table also lists `ttt_fixed` and `ttt_adaptive` when the run has
them, with their paired comparisons.

Bad input (a missing or malformed file, a field that is not there) prints one line on stderr and
exits with status 2.
"""
import argparse
import json
import sys


class InputError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr, exit status 2 (argparse's default prints the usage too)."""

    def error(self, message):
        print(f"error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})")
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (expected a results.json)")
    if not isinstance(doc, dict):
        raise InputError(f"{path}: not a JSON object (expected the results.json of `tttlab run`)")
    for key in ("methods", "comparisons", "config", "dataset"):
        if key not in doc:
            raise InputError(f'{path}: no "{key}" (expected the results.json of `tttlab run`)')
    if doc.get("labelled") is False:
        raise InputError(f"{path}: the run's test set had no labels, so it has no metrics to tabulate")
    return doc


def field(doc, path, *keys):
    value = doc
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise InputError(f"{path}: no {'.'.join(keys)}")
        value = value[key]
    return value


def number(value):
    """0.001 -> 1e-3, 0.005 -> 5e-3, 0.1 -> 0.1, 0.02 -> 0.02, 200 -> 200."""
    if value != 0 and abs(value) < 0.01:
        mantissa, exponent = f"{value:e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:g}"


def percent(x):
    return f"{100 * x:.2f}"


def accuracy_row(name, m):
    ce = "-" if m["mean_ce"] is None else f"{m['mean_ce']:.4f}"
    return f"| {name} | {percent(m['accuracy'])}% | [{percent(m['ci90'][0])}, {percent(m['ci90'][1])}] | {ce} |"


def comparison_row(name, c):
    lo, hi = c["ci90"]
    return f"| {name} (paired) | {100 * c['accuracy_diff']:+.2f} pp | [{100 * lo:+.2f}, {100 * hi:+.2f}] | |"


def ttt_settings(doc, path):
    ttt = field(doc, path, "config", "ttt")
    return f"k = {ttt['k']}, {ttt['steps']} steps, lr {number(ttt['lr'])}"


def level_header(doc, path):
    level = field(doc, path, "config", "bootstrap", "level")
    return f"{100 * level:g}% CI"


def method_table(docs, paths, labels):
    first, first_path = docs[0], paths[0]
    for doc, path in zip(docs[1:], paths[1:]):
        if doc["dataset"] != first["dataset"]:
            raise InputError(f"{path}: another data set than {first_path} ({doc['dataset'].get('name')})")
        if field(doc, path, "methods", "global", "accuracy") != field(first, first_path, "methods", "global", "accuracy"):
            raise InputError(f"{path}: another global head than {first_path} (global accuracy differs)")
    lines = [f"| method | accuracy | {level_header(first, first_path)} | mean CE |", "| --- | --- | --- | --- |"]
    lines.append(accuracy_row("global", field(first, first_path, "methods", "global")))
    majority_k = field(first, first_path, "config", "majority", "k")
    lines.append(accuracy_row(f"majority vote (k = {majority_k})", field(first, first_path, "methods", "majority")))
    several = len(docs) > 1
    unlabelled = labels.count("")
    for doc, path, label in zip(docs, paths, labels):
        if several or label:
            name = "TTT" + (f", {label}" if label else "") + f" ({ttt_settings(doc, path)})"
        elif doc["config"].get("tune"):
            name = f"TTT, tuned on validation ({ttt_settings(doc, path)})"
        else:
            name = "TTT"
        # The comparison rows name a run briefly: by its label, or plain "TTT" when it is the only
        # run without one.
        if label:
            short = f"TTT ({label})"
        else:
            short = "TTT" if unlabelled == 1 else f"TTT ({ttt_settings(doc, path)})"
        lines.append(accuracy_row(name, field(doc, path, "methods", "ttt")))
        if several:
            lines.append(comparison_row(f"{short} - global", field(doc, path, "comparisons", "ttt - global")))
    if not several:
        methods = field(first, first_path, "methods")
        cfg = field(first, first_path, "config")
        if "ttt_fixed" in methods:
            fixed = cfg.get("fixed_ttt")
            label = f" (k = {fixed['k']}, {fixed['steps']} steps, lr {number(fixed['lr'])})" if fixed else ""
            lines.append(accuracy_row(f"TTT, fixed{label}", methods["ttt_fixed"]))
        if "ttt_adaptive" in methods:
            lines.append(accuracy_row("TTT, adaptive (k, steps per point)", methods["ttt_adaptive"]))
        lines.append(comparison_row("TTT - global", field(first, first_path, "comparisons", "ttt - global")))
        lines.append(comparison_row("majority - global", field(first, first_path, "comparisons", "majority - global")))
        comparisons = field(first, first_path, "comparisons")
        for key, name in (("ttt - ttt_fixed", "TTT tuned - fixed"), ("ttt_adaptive - ttt", "TTT adaptive - tuned")):
            if key in comparisons:
                lines.append(comparison_row(name, comparisons[key]))
    return lines


def pp(c):
    return f"{100 * c['accuracy_diff']:+.2f} [{100 * c['ci90'][0]:+.2f}, {100 * c['ci90'][1]:+.2f}]"


def flops(x):
    return f"{x:.2g}"


def fixed_tuned_adaptive_table(docs, paths):
    lines = ["| data | global | TTT fixed | TTT tuned | TTT adaptive | tuned - fixed (pp) | adaptive - tuned (pp) "
             "| flops/point fixed / tuned / adaptive |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for doc, path in zip(docs, paths):
        m = field(doc, path, "methods")
        c = field(doc, path, "comparisons")
        compute = field(doc, path, "compute")
        for key in ("ttt_fixed", "ttt_adaptive"):
            if key not in m:
                raise InputError(f"{path}: no method {key} (run with --tune --compare-fixed --adaptive)")
        name = field(doc, path, "dataset", "name")
        lines.append(f"| {name} | {percent(m['global']['accuracy'])} | {percent(m['ttt_fixed']['accuracy'])} | "
                     f"{percent(m['ttt']['accuracy'])} | {percent(m['ttt_adaptive']['accuracy'])} | "
                     f"{pp(c['ttt - ttt_fixed'])} | {pp(c['ttt_adaptive - ttt'])} | "
                     f"{flops(compute['ttt_fixed_flops_per_point'])} / {flops(compute['ttt_flops_per_point'])} / "
                     f"{flops(compute['ttt_adaptive_flops_per_point'])} |")
    return lines


def selection_table(doc, path):
    s = field(doc, path, "selection")
    if s is None:
        raise InputError(f"{path}: no selection (run with --tune)")
    steps = s["grid"]["steps"]
    chosen = s["chosen"]["ttt"]
    lines = [f"Validation: {s['points']} points of {s['split']}.", "",
             "| k | lr | " + " | ".join(f"{t} steps" for t in steps) + " |",
             "| --- | --- | " + " | ".join("---" for _ in steps) + " |"]
    rows = {}
    for r in s["ttt"]:
        rows.setdefault((r["k"], r["lr"]), {})[r["steps"]] = r
    for (k, lr), by_steps in rows.items():
        cells = []
        for t in steps:
            r = by_steps.get(t)
            mark = "**" if r and (r["k"], r["lr"], r["steps"]) == (chosen["k"], chosen["lr"], chosen["steps"]) else ""
            cells.append(f"{mark}{percent(r['accuracy'])}{mark}" if r else "-")
        lines.append(f"| {k} | {number(lr)} | " + " | ".join(cells) + " |")
    maj = s["chosen"]["majority"]
    lines.append("")
    lines.append(f"Chosen: TTT k = {chosen['k']}, {chosen['steps']} steps, lr {number(chosen['lr'])} "
                 f"({percent(chosen['accuracy'])}% on validation); majority vote k = {maj['k']} "
                 f"({percent(maj['accuracy'])}%).")
    return lines


def settings_table(docs, paths):
    header = f"| k | steps | lr | TTT accuracy | TTT - global, {level_header(docs[0], paths[0])} | TTT mean CE |"
    lines = [header, "| --- | --- | --- | --- | --- | --- |"]
    for doc, path in zip(docs, paths):
        ttt = field(doc, path, "config", "ttt")
        m = field(doc, path, "methods", "ttt")
        c = field(doc, path, "comparisons", "ttt - global")
        ce = "-" if m["mean_ce"] is None else f"{m['mean_ce']:.3f}"
        lines.append(f"| {ttt['k']} | {ttt['steps']} | {number(ttt['lr'])} | {percent(m['accuracy'])}% | "
                     f"{100 * c['accuracy_diff']:+.2f} pp [{100 * c['ci90'][0]:+.2f}, {100 * c['ci90'][1]:+.2f}] | {ce} |")
    return lines


def main(argv):
    parser = OneLineParser(description="README tables from tttlab results.json files")
    parser.add_argument("results", nargs="+", help="results.json files of `tttlab run`")
    parser.add_argument("--label", action="append", default=[],
                        help="a name for each file's TTT rows, in the order of the files ('' for none)")
    parser.add_argument("--by-settings", action="store_true",
                        help="one row per file: the TTT settings, accuracy, paired difference and mean CE")
    parser.add_argument("--fixed-tuned-adaptive", action="store_true",
                        help="one row per file: fixed vs tuned vs adaptive TTT, paired CIs, flops per point")
    parser.add_argument("--selection", action="store_true",
                        help="the validation scores of a --tune run (one file)")
    args = parser.parse_args(argv)
    try:
        if args.label and len(args.label) != len(args.results):
            raise InputError(f"--label given {len(args.label)} times for {len(args.results)} files "
                             "(expected once per file, or not at all)")
        labels = args.label or [""] * len(args.results)
        docs = [load(p) for p in args.results]
        if args.by_settings:
            lines = settings_table(docs, args.results)
        elif args.fixed_tuned_adaptive:
            lines = fixed_tuned_adaptive_table(docs, args.results)
        elif args.selection:
            lines = selection_table(docs[0], args.results[0])
        else:
            lines = method_table(docs, args.results, labels)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, IndexError) as e:
        print(f"error: a results.json field is missing or malformed ({type(e).__name__}: {e})", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
