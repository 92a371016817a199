"""A stand-in linear-representation world (not the theory lab's generator, data/lrh_world.hpp), written with the standard library
only (this machine's Python has no numpy): T concept directions in d2 dimensions (superposition, T > d2),
each point s active concepts with values in [0.5, 1.5], Psi = Phi A + small noise, labels = argmax of a
random linear rule on Phi. Writes an embedding folder plus concepts.npy [T, d2] and test_codes.npy [M, T].
    /usr/bin/python3 docs/sae/make_standin_world.py OUT_DIR
"""
import math
import os
import random
import struct
import sys

T, D2, S, C, N, M, SEED = 100, 32, 4, 10, 10000, 1000, 0


def write_npy(path, rows, dtype):
    shape = (len(rows), len(rows[0])) if isinstance(rows[0], list) else (len(rows),)
    descr, fmt = {"f4": ("<f4", "f"), "i8": ("<i8", "q")}[dtype]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    flat = [v for r in rows for v in r] if len(shape) == 2 else rows
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(flat), fmt), *flat))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(SEED)
    concepts = []
    for _ in range(T):
        v = [rng.gauss(0, 1) for _ in range(D2)]
        n = math.sqrt(sum(x * x for x in v))
        concepts.append([x / n for x in v])
    rule = [[rng.gauss(0, 1) for _ in range(T)] for _ in range(C)]

    def make(n):
        feats, labels, codes = [], [], []
        for _ in range(n):
            phi = [0.0] * T
            for j in rng.sample(range(T), S):
                phi[j] = rng.uniform(0.5, 1.5)
            x = [sum(phi[j] * concepts[j][i] for j in range(T) if phi[j]) + rng.gauss(0, 0.01) for i in range(D2)]
            scores = [sum(rule[c][j] * phi[j] for j in range(T) if phi[j]) for c in range(C)]
            feats.append(x)
            labels.append(max(range(C), key=lambda c: scores[c]))
            codes.append(phi)
        return feats, labels, codes

    xtr, ytr, _ = make(N)
    xte, yte, cte = make(M)
    write_npy(os.path.join(out, "train_features.npy"), xtr, "f4")
    write_npy(os.path.join(out, "train_labels.npy"), ytr, "i8")
    write_npy(os.path.join(out, "test_features.npy"), xte, "f4")
    write_npy(os.path.join(out, "test_labels.npy"), yte, "i8")
    write_npy(os.path.join(out, "concepts.npy"), concepts, "f4")
    write_npy(os.path.join(out, "test_codes.npy"), cte, "f4")


if __name__ == "__main__":
    main()
