#!/usr/bin/env bash
# Sentence-encoder throughput, ours against PyTorch + transformers, in one call: the same model, texts
# and batch size, float32 and bfloat16 (bfloat16 on CUDA only).
#   bench/embed_vs_pytorch.sh BUILD_DIR MODEL_DIR TEXTS [DEVICE] [LIMIT] [BATCH]
# Prints one JSON line per run and then the ratios (ours / PyTorch, texts per second).
set -euo pipefail
build=$1 model=$2 texts=$3 device=${4:-cuda} limit=${5:-0} batch=${6:-64}
dtypes="float32"
[[ $device == cuda* ]] && dtypes="float32 bfloat16"
for dt in $dtypes; do
  ours=$("$build/bench_embed" --model "$model" --input "$texts" --limit "$limit" --device "$device" --dtype "$dt" \
    --batch-size "$batch")
  ref=$(python3 "$(dirname "$0")/embed_pytorch.py" --model "$model" --input "$texts" --limit "$limit" \
    --device "$device" --dtype "$dt" --batch-size "$batch")
  echo "$ours"
  echo "$ref"
  OURS=$ours REF=$ref DEVICE=$device DTYPE=$dt python3 - <<'PY'
import json, os
o, r = json.loads(os.environ["OURS"]), json.loads(os.environ["REF"])
ratio = o["texts_per_second"] / r["texts_per_second"]
print(f"{os.environ['DEVICE']} {os.environ['DTYPE']}: ours {o['texts_per_second']:.1f} texts/s, "
      f"pytorch {r['texts_per_second']:.1f} texts/s, ratio {ratio:.2f}x")
PY
done
