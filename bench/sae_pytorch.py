"""The straightforward PyTorch implementation of the SAE recipe of E.3 that bench_sae_train
compares `tttlab sae train` against (docs/sae.md): the same sizes, schedule, top-k + ReLU, dropout 0.5
on pre-activations, ghost loss (weight 1e6, units with activation frequency <= 1e-4 since the start), grad-norm clip 1,
unit-norm decoder columns, decoder = encoder^T at init, Adam. Prints each epoch's seconds (its steps,
timed with the GPU synchronised, without data generation) and s_per_epoch, their mean over the epochs
after the first when there are several, as bench_sae_train does.
    python3 bench/sae_pytorch.py [--rows N] [--dim D] [--epochs E] [--device cuda|cpu] [--profile trace.json]
With --profile the run is recorded by torch.profiler as a Chrome trace (bench/trace_summary.py sums it).
"""
import argparse
import math
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1281167)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--profile", default="")
    a = ap.parse_args()
    if a.profile:
        acts = [torch.profiler.ProfilerActivity.CPU] + \
            ([torch.profiler.ProfilerActivity.CUDA] if a.device == "cuda" else [])
        with torch.profiler.profile(activities=acts) as prof:
            run(a)
        prof.export_chrome_trace(a.profile)
    else:
        run(a)


def run(a):
    dev = torch.device(a.device)
    torch.manual_seed(0)
    x = torch.randn(a.rows, a.dim, device=dev)
    x = x / x.norm(dim=1, keepdim=True)
    d2, d1, batch = a.dim, 8 * a.dim, 4096
    k_final, k0, k_steps, warmup, lr = 16, min(128, d1), 10000, 5000, 3e-4
    enc = torch.randn(d1, d2, device=dev)
    enc = enc / enc.norm(dim=1, keepdim=True)
    enc = enc.requires_grad_()
    dec = enc.detach().t().contiguous().requires_grad_()
    opt = torch.optim.Adam([enc, dec], lr=lr, betas=(0.9, 0.999))
    steps_per_epoch = (a.rows + batch - 1) // batch
    total = a.epochs * steps_per_epoch
    counts = torch.zeros(d1, device=dev)
    seen = 0
    step = 0
    epoch_s = []
    ghost_steps = []
    for epoch in range(a.epochs):
        order = torch.randperm(a.rows, device=dev)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        ghost_steps.append(0)
        for b in range(steps_per_epoch):
            xb = x[order[b * batch:(b + 1) * batch]]
            k = k_final if step >= k_steps else round(k0 - (k0 - k_final) * step / k_steps)
            lr_now = lr * (step + 1) / warmup if step < warmup else \
                lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
            for g in opt.param_groups:
                g["lr"] = lr_now
            pre = xb @ enc.t()
            vals, idx = torch.nn.functional.dropout(pre, 0.5, training=True).topk(k, dim=1)
            vals = torch.relu(vals)
            z = torch.zeros_like(pre).scatter(1, idx, vals)
            recon = z @ dec.t()
            mse = (recon - xb).pow(2).mean()
            loss = mse
            if seen > 0:
                inactive = (counts / seen) <= 1e-4
                if inactive.any():
                    ghost_steps[-1] += 1
                    ghost = ((xb - recon).detach() - (pre * inactive) @ dec.t()).pow(2).mean()
                    loss = loss + 1e6 * ghost
            with torch.no_grad():
                counts.index_add_(0, idx.flatten(), (vals > 0).flatten().float())
                seen += xb.shape[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([enc, dec], 1.0)
            opt.step()
            with torch.no_grad():
                dec.div_(dec.norm(dim=0, keepdim=True).clamp_min(1e-12))
            step += 1
        if dev.type == "cuda":
            torch.cuda.synchronize()
        epoch_s.append(time.perf_counter() - t0)
    print(f"device {dev}\nrows {a.rows} dim {a.dim} latent {d1} batch {batch} epochs {a.epochs} steps {step}")
    print("epoch_s " + " ".join(f"{e:.3f}" for e in epoch_s))
    # With several epochs, the epochs after the first (cuBLAS and the allocator warmed up).
    steady = epoch_s[1:] if len(epoch_s) > 1 else epoch_s
    print(f"s_per_epoch {sum(steady) / len(steady):.3f}")
    print(f"final_mse {mse.item():.6g}")
    print("ghost_steps " + " ".join(str(g) for g in ghost_steps))


if __name__ == "__main__":
    main()
