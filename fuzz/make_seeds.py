#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into OUT/<target>/ (fuzz/README.md).

Seeds are small valid files (plus the invalid .npy fixtures, which start the fuzzer on the error
paths), taken from tests/fixtures and configs/ or written here with the standard library only, so
that nothing binary is committed and no numpy is needed."""
import gzip
import json
import shutil
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def put(out: Path, target: str, name: str, data: bytes) -> None:
    folder = out / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def safetensors(tensors, metadata=None) -> bytes:
    """tensors: name -> (dtype, shape, raw bytes), laid out in the given order."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def idx(type_code: int, shape, items: bytes) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + items


def small_tokenizer(full: dict, keep_below: int) -> dict:
    """The fixture's tokenizer cut to its first ids (the byte alphabet and early merges)."""
    t = json.loads(json.dumps(full))
    vocab = {tok: i for tok, i in t["model"]["vocab"].items() if i < keep_below}
    merges = []
    for m in t["model"]["merges"]:
        left, right = m.split(" ", 1) if isinstance(m, str) else m
        if left in vocab and right in vocab and left + right in vocab:
            merges.append(m)
    t["model"]["vocab"], t["model"]["merges"] = vocab, merges
    return t


def main() -> None:
    out = Path(sys.argv[1])
    for f in sorted((FIXTURES / "npy").glob("*.npy")) + [FIXTURES / "lm" / "input_ids.npy"]:
        put(out, "npy", f.name, f.read_bytes())

    f32 = lambda *xs: struct.pack(f"<{len(xs)}f", *xs)
    put(out, "safetensors", "head.safetensors",
        safetensors({"weight": ("F32", [2, 3], f32(1, 2, 3, 4, 5, 6)), "bias": ("F32", [2], f32(0.5, -0.5))},
                    {"format": "pt", "size_scale": "0.5"}))
    put(out, "safetensors", "mixed.safetensors",
        safetensors({"weight": ("F64", [1, 2], struct.pack("<2d", 1, 2)), "ids": ("I64", [2], struct.pack("<2q", 7, -1)),
                     "half": ("BF16", [2], b"\x80\x3f\x00\x40"), "mask": ("BOOL", [3], b"\x01\x00\x01"),
                     "empty": ("I8", [0, 4], b"")}))

    for name, data in {
        "images-u8": idx(0x08, [2, 3, 3], bytes(range(18))),
        "labels-u8": idx(0x08, [4], bytes([0, 9, 3, 1])),
        "i8": idx(0x09, [2], b"\x80\x7f"),
        "i16": idx(0x0B, [2, 2], struct.pack(">4h", 1, -2, 300, -400)),
        "i32": idx(0x0C, [3], struct.pack(">3i", 1, -2, 1 << 20)),
        "f32": idx(0x0D, [3], struct.pack(">3f", 0.5, -1.5, 2.25)),
        "f64": idx(0x0E, [1, 2], struct.pack(">2d", 1e-3, -7.0)),
    }.items():
        # The target's first byte: 0 writes the rest as it is, 1 gzip-compresses it first.
        put(out, "idx", name + ".plain", b"\x00" + data)
        put(out, "idx", name + ".compress", b"\x01" + data)
        put(out, "idx", name + ".gz", b"\x00" + gzip.compress(data, mtime=0))

    full = json.loads((FIXTURES / "lm" / "tokenizer.json").read_text())
    put(out, "tokenizer", "qwen2-small.json", json.dumps(small_tokenizer(full, 300), ensure_ascii=False).encode())
    gpt2 = small_tokenizer(full, 280)
    gpt2["normalizer"] = None
    gpt2["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    gpt2["model"]["merges"] = [m if isinstance(m, str) else " ".join(m) for m in gpt2["model"]["merges"]]
    put(out, "tokenizer", "gpt2-small.json", json.dumps(gpt2).encode())

    for d in ("ours", "tied", "sharded"):
        put(out, "decoder_config", d + ".json", (FIXTURES / "lm" / d / "config.json").read_bytes())

    # The layout fuzz_hf_checkpoint.cpp writes: a one-layer model, layer tensors in the second shard.
    names = [n for n in json.loads((FIXTURES / "lm" / "sharded" / "model.safetensors.index.json").read_text())["weight_map"]
             if "layers." not in n or n.startswith("model.layers.0.")]
    weight_map = {n: "model-0000%d-of-00002.safetensors" % (2 if "layers." in n else 1) for n in sorted(names)}
    put(out, "hf_checkpoint", "index.json", json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}, indent=2).encode())

    # The BERT fixture's tokenizer cut to its first ids (run.sh's -max_len is 8,192 bytes), and in the
    # variants the reader accepts: no lower-casing, the older BertProcessing post-processor, no normalizer.
    bert = json.loads((FIXTURES / "bert" / "tiny" / "tokenizer.json").read_text())
    bert["model"]["vocab"] = {t: i for t, i in bert["model"]["vocab"].items() if i < 300}
    put(out, "wordpiece", "tiny.json", json.dumps(bert, ensure_ascii=False, separators=(",", ":")).encode())
    cased = json.loads(json.dumps(bert))
    cased["normalizer"]["lowercase"], cased["normalizer"]["strip_accents"] = False, None
    put(out, "wordpiece", "cased.json", json.dumps(cased, ensure_ascii=False, separators=(",", ":")).encode())
    older = json.loads(json.dumps(bert))
    older["post_processor"] = {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}
    older["normalizer"] = None
    put(out, "wordpiece", "bertprocessing.json", json.dumps(older, ensure_ascii=False, separators=(",", ":")).encode())
    put(out, "bert_config", "tiny.json", (FIXTURES / "bert" / "tiny" / "config.json").read_bytes())

    for f in sorted((ROOT / "configs").glob("*.toml")):
        put(out, "config_toml", f.name, f.read_bytes())
    put(out, "config_toml", "table.toml", b'# a [run] table\n[run]\nk = 7\nlr = 0.5\nquiet = true\ndata = "npy:x"\n')


if __name__ == "__main__":
    main()
