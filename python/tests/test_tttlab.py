"""The Python package against the CLI: the same inputs give the same predictions, probabilities,
results.json and messages. The CLI is build/tttlab of this checkout ($TTTLAB_CLI overrides); tests
that need it are skipped without it."""
import json
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import tttlab

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(os.environ.get("TTTLAB_CLI", ROOT / "build" / "tttlab"))
needs_cli = pytest.mark.skipif(not CLI.exists(), reason=f"no CLI at {CLI} (make build)")


def make_data(seed=0, n=400, m=80, d=8, c=4):
    """Gaussian blobs, one per class, overlapping enough that TTT and the global head differ."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, size=(c, d))
    ytr = rng.integers(0, c, size=n)
    yte = rng.integers(0, c, size=m)
    xtr = (centres[ytr] + rng.normal(size=(n, d))).astype(np.float32)
    xte = (centres[yte] + rng.normal(size=(m, d))).astype(np.float32)
    return xtr, ytr.astype(np.int64), xte, yte.astype(np.int64)


def write_folder(folder, xtr, ytr, xte, yte=None):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "train_features.npy", xtr)
    np.save(folder / "train_labels.npy", ytr)
    np.save(folder / "test_features.npy", xte)
    if yte is not None:
        np.save(folder / "test_labels.npy", yte)
    return folder


def write_safetensors(path, tensors):
    """A minimal safetensors writer (float32 tensors), the format tttlab reads (io/safetensors.hpp)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def run_cli(*args):
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)


def cli_run(data_dir, out_dir, *flags):
    p = run_cli("run", "--data", f"npy:{data_dir}", "--out", out_dir, "--quiet", "--save-probs", *flags)
    assert p.returncode == 0, p.stderr
    return p, json.loads((Path(out_dir) / "results.json").read_text())


# What differs between any two processes: the seconds, and the BLAS libraries loaded (Python's
# numpy brings its own lapack_lite module into the list).
PROCESS = ("timing", "config.machine.blas.libraries")


def without(d, *paths):
    """d without the given dotted keys."""
    d = json.loads(json.dumps(d))
    for path in paths:
        keys = path.split(".")
        node = d
        for k in keys[:-1]:
            node = node.get(k, {})
        node.pop(keys[-1], None)
    return d


def differences(a, b, path=""):
    """The dotted paths where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += differences(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        return out
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


# ---- knn ----

def test_knn_matches_brute_force_and_tie_rule():
    xtr, _, xte, _ = make_data()
    xtr[10] = xtr[3]  # exact duplicates: the tie goes to the smaller index
    xte[0] = xtr[3]
    dist, idx = tttlab.knn(xtr, xte, k=5)
    assert dist.dtype == np.float32 and idx.dtype == np.int64 and idx.shape == (len(xte), 5)
    assert list(idx[0, :2]) == [3, 10]
    full = ((xte[:, None, :].astype(np.float64) - xtr[None, :, :]) ** 2).sum(-1)
    order = np.lexsort((np.broadcast_to(np.arange(len(xtr)), full.shape), full), axis=1)[:, :5]
    assert (idx == order).all()
    np.testing.assert_allclose(dist, np.take_along_axis(full, order, 1), rtol=1e-5, atol=1e-5)


def test_knn_torch_in_torch_out_and_indexes_agree():
    xtr, _, xte, _ = make_data()
    d_np, i_np = tttlab.knn(xtr, xte, 7, index="torch")
    d_t, i_t = tttlab.knn(torch.from_numpy(xtr), torch.from_numpy(xte), 7, index="torch")
    assert isinstance(i_t, torch.Tensor) and i_t.dtype == torch.int64
    assert (i_t.numpy() == i_np).all()
    np.testing.assert_array_equal(d_t.numpy(), d_np)
    if tttlab.have_faiss():
        assert (tttlab.knn(xtr, xte, 7, index="faiss")[1] == i_np).all()


def test_knn_converts_other_layouts():
    xtr, _, xte, _ = make_data()
    ref = tttlab.knn(xtr, xte, 4)[1]
    assert (tttlab.knn(xtr.astype(np.float64), np.asfortranarray(xte), 4)[1] == ref).all()
    assert (tttlab.knn(xtr.tolist(), xte[::-1][::-1], 4)[1] == ref).all()


def test_knn_bad_input_raises_value_error():
    xtr, _, xte, _ = make_data()
    with pytest.raises(ValueError):
        tttlab.knn(xtr, xte, k=len(xtr) + 1)
    with pytest.raises(ValueError):
        tttlab.knn(xtr, xte[:, :3], k=2)
    with pytest.raises(TypeError):
        tttlab.knn("train", xte, k=2)


# ---- run against the CLI ----

@needs_cli
def test_run_equals_cli_with_trained_head(tmp_path):
    xtr, ytr, xte, yte = make_data()
    data = write_folder(tmp_path / "data", xtr, ytr, xte, yte)
    p, cli = cli_run(data, tmp_path / "out", "--head-epochs", 30, "--bootstrap", 200)
    res = tttlab.run(xtr, ytr, xte, yte, head_epochs=30, bootstrap=200, name=f"npy:{data}")
    py = res.to_dict()
    assert differences(without(py, *PROCESS), without(cli, *PROCESS, "outputs")) == []
    for method in ["global", "majority", "ttt"]:
        assert (res.predictions(method) == np.load(tmp_path / "out" / f"pred_{method}.npy")).all()
    for method in ["global", "ttt"]:
        np.testing.assert_array_equal(res.probabilities(method), np.load(tmp_path / "out" / f"probs_{method}.npy"))
    assert (res.neighbors == np.load(tmp_path / "out" / "neighbors.npy")).all()
    # The terminal text: the CLI prints the same, then the line naming results.json.
    assert p.stdout.startswith(res.summary())
    assert "wrote" in p.stdout[len(res.summary()):]


@needs_cli
def test_run_save_writes_what_the_cli_writes(tmp_path):
    xtr, ytr, xte, yte = make_data(seed=1)
    data = write_folder(tmp_path / "data", xtr, ytr, xte, yte)
    _, cli = cli_run(data, tmp_path / "cli", "--head-epochs", 20, "--bootstrap", 100)
    res = tttlab.run(xtr, ytr, xte, yte, head_epochs=20, bootstrap=100, name=f"npy:{data}")
    saved = res.save(tmp_path / "py", save_probs=True)
    assert differences(without(saved, *PROCESS), without(cli, *PROCESS)) == []
    assert sorted(os.listdir(tmp_path / "py")) == sorted(os.listdir(tmp_path / "cli"))


@needs_cli
def test_torch_linear_head_equals_its_safetensors_file(tmp_path):
    xtr, ytr, xte, yte = make_data(seed=2)
    data = write_folder(tmp_path / "data", xtr, ytr, xte, yte)
    torch.manual_seed(0)
    linear = torch.nn.Linear(xtr.shape[1], 4)
    write_safetensors(tmp_path / "head.safetensors",
                      {"weight": linear.weight.detach().numpy(), "bias": linear.bias.detach().numpy()})
    _, cli = cli_run(data, tmp_path / "out", "--head", tmp_path / "head.safetensors", "--bootstrap", 100)
    res = tttlab.run(xtr, ytr, xte, yte, head=linear, bootstrap=100, name=f"npy:{data}")
    py = res.to_dict()
    assert py["config"]["head"] == {"source": "in memory"}
    assert differences(without(py, *PROCESS, "config.head"), without(cli, *PROCESS, "outputs", "config.head")) == []
    for method in ["global", "majority", "ttt"]:
        assert (res.predictions(method) == np.load(tmp_path / "out" / f"pred_{method}.npy")).all()
    # ttt_linear with the same head and settings gives TTT's predictions and probabilities.
    pred, probs = tttlab.ttt_linear(xtr, ytr, xte, linear, k=50, steps=200, lr=1e-3)
    assert (pred == np.load(tmp_path / "out" / "pred_ttt.npy")).all()
    np.testing.assert_array_equal(probs, np.load(tmp_path / "out" / "probs_ttt.npy"))
    # ... and the (weight, bias) pair and torch inputs give the same.
    pred_t, probs_t = tttlab.ttt_linear(torch.from_numpy(xtr), torch.from_numpy(ytr), torch.from_numpy(xte),
                                        (linear.weight.detach(), linear.bias.detach()))
    assert isinstance(pred_t, torch.Tensor) and (pred_t.numpy() == pred).all()
    np.testing.assert_array_equal(probs_t.numpy(), probs)


@needs_cli
def test_unlabelled_test_set_equals_cli(tmp_path):
    xtr, ytr, xte, _ = make_data(seed=3)
    data = write_folder(tmp_path / "data", xtr, ytr, xte)
    _, cli = cli_run(data, tmp_path / "out", "--head-epochs", 10)
    res = tttlab.run(xtr, ytr, xte, head_epochs=10, name=f"npy:{data}")
    assert res.to_dict()["labelled"] is False
    assert differences(without(res.to_dict(), *PROCESS), without(cli, *PROCESS, "outputs")) == []
    assert res.test_labels is None and res.cross_entropy("ttt") is None


@needs_cli
def test_tuned_adaptive_run_with_val_split_equals_cli(tmp_path):
    xtr, ytr, xte, yte = make_data(seed=4)
    xv, yv, _, _ = make_data(seed=4, n=120, m=1)
    data = write_folder(tmp_path / "data", xtr, ytr, xte, yte)
    np.save(data / "val_features.npy", xv)
    np.save(data / "val_labels.npy", yv)
    _, cli = cli_run(data, tmp_path / "out", "--tune", "--tune-k", "5,20", "--tune-steps", "10,40", "--tune-lr",
                     "0.01,0.1", "--tune-majority-k", "1,5", "--compare-fixed", "--adaptive", "--head-epochs", 20,
                     "--bootstrap", 100, "--seed", 3)
    res = tttlab.run(torch.from_numpy(xtr), torch.from_numpy(ytr), torch.from_numpy(xte), torch.from_numpy(yte),
                     val_x=xv, val_y=yv, tune=True, tune_k=[5, 20], tune_steps=[10, 40], tune_lr=[0.01, 0.1],
                     tune_majority_k=[1, 5], compare_fixed=True, adaptive=True, head_epochs=20, bootstrap=100,
                     seed=3, name=f"npy:{data}")
    assert res.methods == ["global", "majority", "ttt", "ttt_fixed", "ttt_adaptive"]
    assert differences(without(res.to_dict(), *PROCESS, "selection.seconds"),
                       without(cli, *PROCESS, "selection.seconds", "outputs")) == []
    pred = res.predictions("ttt_adaptive")
    assert isinstance(pred, torch.Tensor)
    assert (pred.numpy() == np.load(tmp_path / "out" / "pred_ttt_adaptive.npy")).all()


# ---- bad input: the CLI's message ----

def bad_cases():
    xtr, ytr, xte, yte = make_data(n=60, m=10)
    nan = xtr.copy()
    nan[5, 2] = np.nan
    return {
        "width": (xtr, ytr, xte[:, :5], yte),
        "non-finite": (nan, ytr, xte, yte),
        "labels-length": (xtr, ytr[:-1], xte, yte),
        "test-label-range": (xtr, ytr, xte, yte + 10),
        "one-d-features": (xtr[:, 0].copy(), ytr, xte, yte),
    }


@needs_cli
@pytest.mark.parametrize("case", list(bad_cases()))
def test_bad_input_raises_value_error_with_the_cli_message(tmp_path, case):
    xtr, ytr, xte, yte = bad_cases()[case]
    data = write_folder(tmp_path / "data", xtr, ytr, xte, yte)
    p = run_cli("run", "--data", f"npy:{data}", "--out", tmp_path / "out", "--quiet")
    assert p.returncode == 2
    cli_message = p.stderr.strip().splitlines()[-1]
    with pytest.raises(ValueError) as err:
        tttlab.run(xtr, ytr, xte, yte)
    # The CLI names the file in its folder; Python names the same array by its file name.
    assert cli_message == f"error: {data}/{err.value}"


def test_bad_settings_raise_value_error():
    xtr, ytr, xte, yte = make_data(n=60, m=10)
    linear = torch.nn.Linear(xtr.shape[1], 4)
    with pytest.raises(ValueError, match="k=61 is larger than the training set"):
        tttlab.ttt_linear(xtr, ytr, xte, linear, k=61)
    with pytest.raises(ValueError):
        tttlab.ttt_linear(xtr, ytr, xte, linear, mode="nonsense")
    with pytest.raises(ValueError, match="head"):
        tttlab.ttt_linear(xtr, ytr, xte, torch.nn.Linear(3, 4))
    with pytest.raises(ValueError):
        tttlab.run(xtr, ytr, xte, yte, preset="no-such-preset")
    with pytest.raises(TypeError):
        tttlab.run(xtr, ytr, xte, yte, no_such_option=1)
    with pytest.raises(TypeError):
        tttlab.ttt_linear(xtr, ytr, xte, head="head.safetensors")


# ---- ttt_linear ----

def test_ttt_linear_returns_heads_and_zero_steps_is_the_global_head():
    xtr, ytr, xte, _ = make_data(n=200, m=20)
    linear = torch.nn.Linear(xtr.shape[1], 4)
    pred, probs, (w, b) = tttlab.ttt_linear(xtr, ytr, xte, linear, k=10, steps=5, lr=1e-2, return_heads=True)
    assert pred.shape == (20,) and probs.shape == (20, 4) and w.shape == (20, 4, 8) and b.shape == (20, 4)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    # The adapted heads predict the points as returned.
    logits = np.einsum("mcd,md->mc", w, xte) + b
    assert (logits.argmax(1) == pred).all()
    # Zero steps: the global head's prediction.
    pred0 = tttlab.ttt_linear(xtr, ytr, xte, linear, k=10, steps=0, return_probs=False)
    with torch.no_grad():
        assert (pred0 == linear(torch.from_numpy(xte)).argmax(1).numpy()).all()


def test_example_script_runs():
    # examples/python_embeddings.py, the example of docs/python.md, on its made-up data.
    import sys
    script = Path(__file__).resolve().parents[2] / "examples" / "python_embeddings.py"
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "ttt_linear agrees with run's TTT: True" in r.stdout


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (GPU machine only)")


@needs_cuda
def test_cuda_tensors_give_the_cpu_results():
    # CUDA tensors in (DLPack, no copy), CUDA results out for knn; ttt_linear on CUDA agrees with the
    # CPU engine (float32 on both: the same predictions, probabilities within 1e-4).
    xtr, ytr, xte, _ = make_data(seed=5)
    dist_c, idx_c = tttlab.knn(torch.from_numpy(xtr), torch.from_numpy(xte), k=7, device="cpu")
    dist_g, idx_g = tttlab.knn(torch.from_numpy(xtr).cuda(), torch.from_numpy(xte).cuda(), k=7, device="cuda")
    assert idx_g.is_cuda
    assert torch.equal(idx_g.cpu(), idx_c)
    assert torch.allclose(dist_g.cpu(), dist_c, atol=1e-4)
    head = torch.nn.Linear(xtr.shape[1], 4)
    pred_c, prob_c = tttlab.ttt_linear(xtr, ytr, xte, head, k=20, steps=30, lr=0.05, device="cpu")
    pred_g, prob_g = tttlab.ttt_linear(torch.from_numpy(xtr).cuda(), torch.from_numpy(ytr).cuda(),
                                       torch.from_numpy(xte).cuda(), head, k=20, steps=30, lr=0.05, device="cuda")
    assert (pred_g.cpu().numpy() == pred_c).mean() > 0.98
    assert np.abs(prob_g.cpu().numpy() - prob_c).max() < 1e-3
