"""Sums the GPU kernels of a Chrome trace (from TTTLAB_PROFILE=... bench_sae_train or
bench/sae_pytorch.py --profile): total kernel time, the GPU's busy span, and the kernels that take
the most time, grouped by name, so that two implementations of one recipe can be compared kernel by
kernel.    python3 bench/trace_summary.py trace.json [--top 25]
"""
import argparse
import collections
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    with open(a.trace) as f:
        events = json.load(f)
    events = events["traceEvents"] if isinstance(events, dict) else events
    kernels = [e for e in events if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset") and "dur" in e]
    if not kernels:
        print("no GPU kernels in the trace")
        return
    total = sum(e["dur"] for e in kernels)
    start = min(e["ts"] for e in kernels)
    end = max(e["ts"] + e["dur"] for e in kernels)
    by_name = collections.defaultdict(lambda: [0, 0.0])
    for e in kernels:
        by_name[e["name"]][0] += 1
        by_name[e["name"]][1] += e["dur"]
    print(f"kernels {len(kernels)} kernel_ms {total / 1e3:.1f} span_ms {(end - start) / 1e3:.1f} "
          f"busy {100 * total / max(1, end - start):.1f}%")
    for name, (count, dur) in sorted(by_name.items(), key=lambda kv: -kv[1][1])[:a.top]:
        print(f"{dur / 1e3:9.1f} ms {count:7d}x {dur / count:8.1f} us  {name[:110]}")


if __name__ == "__main__":
    main()
