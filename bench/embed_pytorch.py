"""The PyTorch way of embedding texts with a sentence encoder, timed like bench/bench_embed.cpp: the
same texts, sorted by length and cut into the same batches, each padded to its longest; Hugging
Face's fast tokenizer, transformers' BertModel (its default attention), mean pooling over the mask
and L2 normalisation (sentence-transformers' Pooling + Normalize). Best of --reps passes after a
warm-up pass. Prints one JSON object.

    python3 bench/embed_pytorch.py --model DIR --input FILE.jsonl|FILE.txt [--limit N] [--device cuda]
                                   [--dtype float32|bfloat16] [--batch-size 64] [--reps 3]
    python3 bench/embed_pytorch.py --make-random DIR --like MODEL_DIR   # random weights, MODEL_DIR's shape

--make-random writes a BertModel with random weights (transformers' initialisation, seed 0) and the
shape of MODEL_DIR's config.json into DIR, with MODEL_DIR's tokenizer and sentence-transformers files:
throughput does not depend on the weights' values, so a machine that cannot fetch the real weights
can still time the real architecture on real tokens.
"""
import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch
import transformers


def read_texts(path, limit):
    texts = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if path.endswith((".jsonl", ".ndjson", ".json")):
            if not line.strip():
                continue
            texts.append(json.loads(line)["text"])
        else:
            texts.append(line)
        if limit and len(texts) >= limit:
            break
    return texts


def make_random(out, like):
    out, like = Path(out), Path(like)
    out.mkdir(parents=True, exist_ok=True)
    for p in like.rglob("*"):
        if p.is_file() and not p.name.endswith((".safetensors", ".bin")):
            dest = out / p.relative_to(like)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, dest)
    torch.manual_seed(0)
    config = transformers.BertConfig.from_pretrained(str(like))
    transformers.BertModel(config).save_pretrained(str(out), safe_serialization=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--input")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--max-length", type=int, default=0, help="default: sentence_bert_config.json's max_seq_length")
    ap.add_argument("--make-random")
    ap.add_argument("--like")
    a = ap.parse_args()
    if a.make_random:
        make_random(a.make_random, a.like)
        return
    model_dir = Path(a.model)
    max_length = a.max_length or json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    dtype = torch.bfloat16 if a.dtype == "bfloat16" else torch.float32
    tok = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    model = transformers.BertModel.from_pretrained(str(model_dir), torch_dtype=dtype).to(a.device).eval()
    texts = read_texts(a.input, a.limit)

    def sync():
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()

    def run():
        enc = tok(texts, truncation=True, max_length=max_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(enc[i]))
        out = torch.empty(len(texts), model.config.hidden_size)
        with torch.inference_mode():
            for s in range(0, len(order), a.batch_size):
                rows = order[s:s + a.batch_size]
                batch = tok.pad({"input_ids": [enc[i] for i in rows]}, return_tensors="pt")
                ids = batch["input_ids"].to(a.device)
                mask = batch["attention_mask"].to(a.device)
                hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
                m = mask.unsqueeze(-1).float()
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[torch.tensor(rows)] = pooled.cpu()
        return sum(len(e) for e in enc)

    run()
    sync()
    best = float("inf")
    tokens = 0
    for _ in range(a.reps):
        t0 = time.perf_counter()
        tokens = run()
        sync()
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"engine": "pytorch", "device": a.device, "dtype": a.dtype, "batch_size": a.batch_size,
                      "texts": len(texts), "tokens": tokens, "seconds": best, "texts_per_second": len(texts) / best,
                      "tokens_per_second": tokens / best, "torch": torch.__version__,
                      "transformers": transformers.__version__,
                      "attention": getattr(model.config, "_attn_implementation", "eager"),
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    sys.exit(main())
