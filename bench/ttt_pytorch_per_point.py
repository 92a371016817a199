#!/usr/bin/env python3
"""The paper's TTT protocol in PyTorch, one test point at a time: the baseline that
bench_ttt_cuda compares against (path (ii) of its table).

For each test point: copy the global head (torch.nn.Linear), make a torch.optim.Adam for the
copy, take `steps` full-batch steps on the mean cross-entropy of its k neighbours, predict the
point. Synthetic data of the benchmark's shape; TF32 off (float32 throughout).

    python3 bench/ttt_pytorch_per_point.py --classes 1000 --dim 512 --k 50 --steps 80 --points 100
prints `ms_per_point <float>` as its last line.
"""
import argparse
import copy
import time

import torch
import torch.nn.functional as F


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--train", type=int, default=20000, help="training points to draw neighbours from")
    ap.add_argument("--points", type=int, default=100, help="test points timed")
    ap.add_argument("--warmup", type=int, default=5, help="test points run before timing")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    d, c = args.dim, args.classes
    train_x = (torch.randn(args.train, d, generator=g) / d**0.5).to(dev)
    train_y = torch.randint(c, (args.train,), generator=g).to(dev)
    total = args.warmup + args.points
    test_x = (torch.randn(total, d, generator=g) / d**0.5).to(dev)
    neighbors = torch.randint(args.train, (total, args.k), generator=g).to(dev)
    head = torch.nn.Linear(d, c).to(dev)

    def adapt_and_predict(i: int) -> torch.Tensor:
        local = copy.deepcopy(head)
        opt = torch.optim.Adam(local.parameters(), lr=args.lr)
        x, y = train_x[neighbors[i]], train_y[neighbors[i]]
        for _ in range(args.steps):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(local(x), y).backward()
            opt.step()
        with torch.no_grad():
            return local(test_x[i]).argmax()

    for i in range(args.warmup):
        adapt_and_predict(i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    preds = [adapt_and_predict(args.warmup + i) for i in range(args.points)]
    torch.stack(preds).cpu()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    ms = 1000 * (time.perf_counter() - t0) / args.points
    print(f"PyTorch {torch.__version__} on {torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'}: "
          f"C={c} d={d} k={args.k} T={args.steps}, {args.points} points")
    print(f"ms_per_point {ms:.4f}")


if __name__ == "__main__":
    main()
