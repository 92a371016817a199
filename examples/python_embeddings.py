#!/usr/bin/env python3
"""TTT on your own embeddings from Python (docs/python.md).

  python examples/python_embeddings.py [DIR]

DIR: an embedding folder (train_features.npy, train_labels.npy, test_features.npy and optionally
test_labels.npy). Without one, made-up data stands in: Gaussian blobs in 16 dimensions.
"""
import sys
from pathlib import Path

import numpy as np
import torch

import tttlab


def load(folder):
    if folder is None:
        rng = np.random.default_rng(0)
        centres = rng.normal(0, 1.0, size=(5, 16))
        ytr, yte = rng.integers(0, 5, 2000), rng.integers(0, 5, 500)
        xtr = (centres[ytr] + rng.normal(size=(2000, 16))).astype(np.float32)
        xte = (centres[yte] + rng.normal(size=(500, 16))).astype(np.float32)
        return xtr, ytr, xte, yte
    d = Path(folder)
    test_labels = d / "test_labels.npy"
    return (np.load(d / "train_features.npy"), np.load(d / "train_labels.npy"), np.load(d / "test_features.npy"),
            np.load(test_labels) if test_labels.exists() else None)


def main():
    train_x, train_y, test_x, test_y = load(sys.argv[1] if len(sys.argv) > 1 else None)
    print(tttlab.version())

    # 1. The study of `tttlab run`: a global head trained here, majority vote, TTT; bootstrap CIs.
    result = tttlab.run(train_x, train_y, test_x, test_y, seed=0)
    print(result.summary())
    report = result.to_dict()  # what results.json holds
    if report["labelled"]:
        print("TTT - global accuracy:", report["comparisons"]["ttt - global"]["accuracy_diff"])

    # 2. TTT alone from the study's global head, as a torch.nn.Linear, with the adapted heads.
    weight, bias = result.head
    head = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight))
        head.bias.copy_(torch.from_numpy(bias))
    pred, probs, (w, b) = tttlab.ttt_linear(train_x, train_y, test_x, head, k=50, steps=200, lr=1e-3,
                                            return_heads=True)
    print("ttt_linear agrees with run's TTT:", bool((pred == result.predictions("ttt")).all()))
    print("adapted heads:", w.shape, b.shape, "; mean top probability:", float(probs.max(1).mean()))

    # 3. The same with torch tensors in: torch tensors out.
    dist, idx = tttlab.knn(torch.from_numpy(np.ascontiguousarray(train_x, np.float32)),
                           torch.from_numpy(np.ascontiguousarray(test_x, np.float32)), k=5)
    print("nearest training points of test point 0:", idx[0].tolist())


if __name__ == "__main__":
    main()
