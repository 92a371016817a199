#!/usr/bin/env python3
"""The Python package's overhead over the CLI on the same TTT run.

Writes one embedding folder (Gaussian blobs; --test points, 10,000 by default) and a head file, then
times, alternately and --repeats times each:
  cli          `tttlab run --data npy:DIR --head HEAD` (its engine time: results.json's neighbours_s
               + ttt_s, the stages ttt_linear does; and its total_s);
  ttt_linear   tttlab.ttt_linear on the same arrays and head, wall-clock from the Python call to the
               returned numpy arrays (conversion, neighbour search, TTT, probabilities);
  run          tttlab.run on the same arrays and head, wall-clock (every stage of `tttlab run`).
Prints the medians and the overhead of each Python call over the matching CLI engine time, and
checks that all three predict the same.

  python bench/python_vs_cli.py [--cli build/tttlab] [--test 10000] [--steps 20]
"""
import argparse
import json
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import tttlab


def write_head(path, weight, bias):
    header, blobs, offset = {}, [], 0
    for name, t in (("bias", bias), ("weight", weight)):
        data = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=str(Path(__file__).resolve().parents[1] / "build" / "tttlab"))
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1.0, size=(a.classes, a.dim))
    ytr = rng.integers(0, a.classes, a.train)
    yte = rng.integers(0, a.classes, a.test)
    xtr = (centres[ytr] + rng.normal(size=(a.train, a.dim))).astype(np.float32)
    xte = (centres[yte] + rng.normal(size=(a.test, a.dim))).astype(np.float32)
    torch.manual_seed(0)
    linear = torch.nn.Linear(a.dim, a.classes)
    w, b = linear.weight.detach().numpy(), linear.bias.detach().numpy()

    tmp = Path(tempfile.mkdtemp(prefix="tttlab-bench-"))
    data = tmp / "data"
    data.mkdir()
    for name, arr in [("train_features", xtr), ("train_labels", ytr), ("test_features", xte), ("test_labels", yte)]:
        np.save(data / f"{name}.npy", arr)
    write_head(tmp / "head.safetensors", w, b)
    flags = ["--k", a.k, "--steps", a.steps, "--lr", a.lr, "--bootstrap", 100]

    cli_engine, cli_total, py_ttt, py_run = [], [], [], []
    for r in range(a.repeats):
        out = tmp / f"out{r}"
        p = subprocess.run([a.cli, "run", "--data", f"npy:{data}", "--head", tmp / "head.safetensors", "--out", out,
                            "--quiet", *map(str, flags)], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(p.stderr)
        t = json.loads((out / "results.json").read_text())["timing"]
        cli_engine.append(t["neighbours_s"] + t["ttt_s"])
        cli_total.append(t["total_s"])
        cli_pred = np.load(out / "pred_ttt.npy")

        start = time.perf_counter()
        pred, _ = tttlab.ttt_linear(xtr, ytr, xte, (w, b), k=a.k, steps=a.steps, lr=a.lr)
        py_ttt.append(time.perf_counter() - start)
        assert (pred == cli_pred).all(), "ttt_linear predicts differently from the CLI"

        start = time.perf_counter()
        res = tttlab.run(xtr, ytr, xte, yte, head=(w, b), k=a.k, steps=a.steps, lr=a.lr, bootstrap=100)
        py_run.append(time.perf_counter() - start)
        assert (res.predictions("ttt") == cli_pred).all(), "run predicts differently from the CLI"

    med = statistics.median
    print(f"data: {a.train} train / {a.test} test, d={a.dim}, C={a.classes}; TTT k={a.k}, {a.steps} steps; "
          f"{a.repeats} repeats, medians; {torch.get_num_threads()} threads")
    print(f"cli engine (neighbours + ttt)  {med(cli_engine):8.3f} s")
    print(f"python ttt_linear (wall)       {med(py_ttt):8.3f} s   overhead {100 * (med(py_ttt) / med(cli_engine) - 1):+.1f}%")
    print(f"cli total_s (every stage)      {med(cli_total):8.3f} s")
    print(f"python run (wall)              {med(py_run):8.3f} s   overhead {100 * (med(py_run) / med(cli_total) - 1):+.1f}%")
    print("predictions: equal to the CLI's in every repeat")


if __name__ == "__main__":
    main()
