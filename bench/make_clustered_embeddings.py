"""Writes a synthetic embedding folder of a chosen size (default: ImageNet's, 1,281,167 train and
50,000 test rows of width 512, 1,000 classes): unit vectors around per-class unit centres, for
timing and memory runs of `tttlab reproduce table1` and friends at full scale where no real
embeddings are at hand (e.g. on the GPU machine, which has no internet). Needs torch and numpy.
    python3 bench/make_clustered_embeddings.py --out DIR [--train N] [--test M] [--dim D]
        [--classes C] [--spread S] [--seed S]
"""
import argparse
import os

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", type=int, default=1281167)
    ap.add_argument("--test", type=int, default=50000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--spread", type=float, default=1.0, help="noise norm relative to the centre's")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    g = torch.Generator().manual_seed(a.seed)
    centres = torch.randn(a.classes, a.dim, generator=g)
    centres /= centres.norm(dim=1, keepdim=True)
    os.makedirs(a.out, exist_ok=True)
    for split, n in (("train", a.train), ("test", a.test)):
        labels = torch.randint(a.classes, (n,), generator=g)
        x = centres[labels] + a.spread * torch.randn(n, a.dim, generator=g) / a.dim ** 0.5
        x /= x.norm(dim=1, keepdim=True)
        np.save(os.path.join(a.out, f"{split}_features.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(a.out, f"{split}_labels.npy"), labels.numpy().astype(np.int64))
        print(f"{split}: {n} x {a.dim}, {a.classes} classes")


if __name__ == "__main__":
    main()
