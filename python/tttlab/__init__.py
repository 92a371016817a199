"""tttlab: test-time training (TTT) of linear heads on nearest neighbours, from Python.

A thin layer over the C++ library that the ``tttlab`` command line is built on (docs/python.md):

* :func:`knn` -- exact k nearest neighbours by squared L2 (the CLI's tie rule: ties go to the smaller
  training index);
* :func:`ttt_linear` -- for every test point, fine-tune a linear head with Adam on its k nearest
  training points, predict, reset;
* :func:`run` -- what ``tttlab run`` does on an embedding folder (global head vs majority vote vs
  TTT, bootstrap CIs), on arrays in memory; its :class:`Result` gives the terminal table
  (:meth:`Result.summary`) and the content of ``results.json`` (:meth:`Result.to_dict`).

Arrays: numpy arrays or torch tensors (CPU or CUDA). A float32 C-contiguous numpy array, or any
numpy array of a dtype the library reads (float16/32/64, int8/16/32/64, uint8, bool) with
non-negative strides, is used in place without a copy; other numpy inputs (lists, other dtypes,
byte-swapped or negatively strided arrays) are converted first (floats to float32, integers to
int64). Torch tensors are passed through DLPack, also without a copy. Results are numpy arrays when
the test (query) points were numpy, torch tensors when they were a torch tensor.

Bad input raises ValueError with the one-line message the CLI prints after ``error:`` (arrays are
named by the embedding folder's file names: train_x is ``train_features.npy``, train_y
``train_labels.npy``, test_x ``test_features.npy``, test_y ``test_labels.npy``, val_x/val_y
``val_features.npy``/``val_labels.npy``); an argument of the wrong kind raises TypeError.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch  # loads LibTorch, which tttlab._core links, before the extension
import torch.utils.dlpack

from . import _core

__all__ = ["knn", "ttt_linear", "run", "Result", "set_threads", "presets", "have_faiss", "version"]

__version__ = "0.1.0"

_SUPPORTED = {
    np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64),
    np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64),
    np.dtype(np.uint8), np.dtype(np.bool_),
}


def _to_core(x: Any, what: str) -> Any:
    """A numpy array or a DLPack capsule for tttlab._core (see the module docstring)."""
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if t.is_conj() or t.is_neg():
            t = t.resolve_conj().resolve_neg()
        return t.__dlpack__()
    if isinstance(x, (str, bytes, dict)):
        raise TypeError(f"{what}: expected a numpy array or a torch tensor, got {type(x).__name__}")
    a = np.asarray(x)
    if a.dtype not in _SUPPORTED or not a.dtype.isnative:
        if np.issubdtype(a.dtype, np.floating):
            a = a.astype(np.float32)
        elif np.issubdtype(a.dtype, np.integer):
            a = a.astype(np.int64)
        else:
            raise TypeError(f"{what}: unsupported dtype {a.dtype} (expected numbers)")
    if any(s < 0 or s % a.itemsize for s in a.strides):
        a = np.ascontiguousarray(a)
    return a


def _from_core(x: Any, as_torch: bool) -> Any:
    """A result of tttlab._core (numpy array, DLPack capsule or None) as numpy or torch."""
    if x is None or not as_torch:
        return x
    return torch.utils.dlpack.from_dlpack(x)


def _head_arrays(head: Any) -> Tuple[Any, Any]:
    """(weight [C, d], bias [C]) of a torch.nn.Linear or of a (weight, bias) pair."""
    if isinstance(head, torch.nn.Linear):
        w = head.weight.detach()
        b = head.bias.detach() if head.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
        return w, b
    if isinstance(head, (tuple, list)) and len(head) == 2:
        return head[0], head[1]
    raise TypeError(f"head: expected a torch.nn.Linear or a (weight, bias) pair, got {type(head).__name__}")


def _threads(threads: Optional[int]) -> None:
    if threads is not None:
        _core.set_threads(int(threads))


def set_threads(threads: int = 0) -> None:
    """Sets LibTorch's and OpenMP's CPU threads, as ``tttlab run --threads`` does (0 = every core).

    Debian's LibTorch starts with one thread; :func:`knn`, :func:`ttt_linear` and :func:`run` call
    this with their ``threads`` argument (0 by default) unless it is None.
    """
    _core.set_threads(int(threads))


def presets() -> List[Tuple[str, str]]:
    """The study presets (name, one-line summary), as ``tttlab presets`` lists them."""
    return list(_core.presets())


def have_faiss() -> bool:
    """True when the library was built with FAISS (index="faiss" available; "auto" uses it on the CPU)."""
    return bool(_core.have_faiss())


def version() -> str:
    """The version line of ``tttlab --version``, e.g. "tttlab 0.1.0 (LibTorch 1.13.0, FAISS 1.7.3)"."""
    return str(_core.version_line())


def knn(train_x: Any, query_x: Any, k: int, index: str = "auto", device: str = "auto",
        threads: Optional[int] = 0, verbose: bool = False) -> Tuple[Any, Any]:
    """Exact k nearest training points of every query by squared L2 distance.

    Args:
        train_x: training points, float [N, d] (converted to float32).
        query_x: queries, float [M, d].
        k: neighbours per query, 1 <= k <= N.
        index: "auto" (FAISS on the CPU when built with it, else LibTorch), "faiss" or "torch".
        device: "auto" (CUDA when available), "cpu" or "cuda[:N]": where the search runs.
        threads: CPU threads (0 = every core; None leaves the current setting).
        verbose: show a progress bar on stderr.

    Returns:
        (distances, indices): float32 [M, k] squared L2 distances, ascending, and int64 [M, k]
        training indices, nearest first. Ties go to the smaller training index, also at the k-th
        neighbour, as in ``tttlab run`` (neighbors/index.hpp). numpy when query_x is numpy, torch
        (on the queries' device) when it is a torch tensor.

    Raises:
        ValueError: k < 1 or k > N, widths that differ, non-2-D or non-finite data, an empty set,
            an unknown index or device (the CLI's message).
    """
    _threads(threads)
    _core.set_progress(bool(verbose))
    as_torch = isinstance(query_x, torch.Tensor)
    d, i = _core.knn(_to_core(train_x, "train_x"), _to_core(query_x, "query_x"), int(k), index, device, as_torch)
    return _from_core(d, as_torch), _from_core(i, as_torch)


def ttt_linear(train_x: Any, train_y: Any, test_x: Any, head: Any, k: int = 50, steps: int = 200,
               lr: float = 1e-3, mode: str = "erm", device: str = "auto", return_probs: bool = True,
               return_heads: bool = False, *, test_y: Any = None, weight_decay: float = 0.0,
               betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, index: str = "auto",
               points_per_batch: int = 0, memory_budget_mb: int = 0, fused: bool = True,
               threads: Optional[int] = 0, verbose: bool = False) -> Any:
    """Test-time training of a linear head: for every test point, start from ``head``, take
    ``steps`` Adam steps on the mean cross-entropy of its ``k`` nearest training points, predict the
    point with the adapted head, and reset (the batched engine of ``tttlab run``, ttt/local_fit.hpp).

    The defaults are ``tttlab run``'s (preset "default": k 50, 200 steps, lr 1e-3).

    Args:
        train_x: training features, float [N, d].
        train_y: training labels, integers [N] in 0..C-1.
        test_x: test features, float [M, d].
        head: a ``torch.nn.Linear(d, C)`` or a pair (weight [C, d], bias [C]); C must cover the
            training labels.
        k: neighbours per test point.
        steps: Adam steps per test point.
        lr: Adam's learning rate.
        mode: "erm" (every step on all k neighbours) or "sequential" (step t on neighbour t mod k).
        device: "auto" (CUDA when available), "cpu" or "cuda[:N]": where neighbours and heads run.
        return_probs: also return the class probabilities (softmax of the adapted logits).
        return_heads: also return every adapted head, (weights [M, C, d], biases [M, C]).
        test_y: optional test labels [M] (only checked against the label range here).
        weight_decay, betas, eps: Adam's other settings (weight decay as torch.optim.Adam's).
        index: neighbour search, as in :func:`knn`.
        points_per_batch, memory_budget_mb: batching of the engine (0 = automatic).
        fused: on CUDA, the fused gradient + Adam kernel (False: LibTorch's element-wise ops).
        threads: CPU threads (0 = every core; None leaves the current setting).
        verbose: show progress bars on stderr.

    Returns:
        predictions (int64 [M]); with return_probs, ``(predictions, probabilities)`` (float32
        [M, C]); with return_heads, ``(predictions, probabilities, (weights, biases))``, or
        ``(predictions, (weights, biases))`` when return_probs is False. numpy when test_x is numpy,
        torch tensors when it is a torch tensor.

    Raises:
        ValueError: bad arrays, a head that does not fit them, k > N or a setting out of range
            (the CLI's message); TypeError: an argument that is not an array or head.
    """
    _threads(threads)
    _core.set_progress(bool(verbose))
    as_torch = isinstance(test_x, torch.Tensor)
    w, b = _head_arrays(head)
    arrays = {
        "train_features.npy": _to_core(train_x, "train_x"),
        "train_labels.npy": _to_core(train_y, "train_y"),
        "test_features.npy": _to_core(test_x, "test_x"),
        "test_labels.npy": _to_core(test_y, "test_y"),
    }
    options = {"k": int(k), "steps": int(steps), "lr": float(lr), "mode": mode, "device": device,
               "weight_decay": float(weight_decay), "beta1": float(betas[0]), "beta2": float(betas[1]),
               "eps": float(eps), "points_per_batch": int(points_per_batch),
               "memory_budget_mb": int(memory_budget_mb), "fused": bool(fused)}
    out = _core.ttt_linear(arrays, _to_core(w, "head weight"), _to_core(b, "head bias"), options, index,
                           bool(return_heads), as_torch)
    pred = _from_core(out["predictions"], as_torch)
    result: List[Any] = [pred]
    if return_probs:
        result.append(_from_core(out["probabilities"], as_torch))
    if return_heads:
        result.append((_from_core(out["weights"], as_torch), _from_core(out["biases"], as_torch)))
    return pred if len(result) == 1 else tuple(result)


class Result:
    """The outcome of :func:`run`: every method's predictions and the study's report.

    ``summary()`` is the text ``tttlab run`` prints (the data set, the training log, the settings
    that ran and the table), ``to_dict()`` the content of its results.json, and ``save(out)`` writes
    the files ``tttlab run --out`` writes.
    """

    def __init__(self, study: Any, as_torch: bool = False) -> None:
        self._s = study
        self._as_torch = as_torch

    def summary(self) -> str:
        """The terminal text of ``tttlab run`` (without its last line, which names results.json)."""
        return str(self._s.summary())

    def to_dict(self) -> Dict[str, Any]:
        """The content of results.json as ``tttlab run`` writes it, less "outputs" (the files
        written, which exist only after :meth:`save`; its return value has them)."""
        return json.loads(self._s.to_json())

    def save(self, out: Union[str, os.PathLike], save_probs: bool = False,
             export_embeddings: Union[str, os.PathLike, None] = None) -> Dict[str, Any]:
        """Writes what ``tttlab run --out OUT`` writes (results.json, pred_<method>.npy, ce_<method>.npy,
        neighbors.npy, head.safetensors, ...; ``save_probs`` as --save-probs, ``export_embeddings``
        as --export-embeddings) and returns the results.json written."""
        self._s.save(os.fspath(out), bool(save_probs), os.fspath(export_embeddings) if export_embeddings else "")
        with open(Path(out) / "results.json", encoding="utf-8") as f:
            return json.load(f)

    @property
    def methods(self) -> List[str]:
        """The methods that ran, e.g. ["global", "majority", "ttt"]."""
        return list(self._s.methods())

    def predictions(self, method: str = "ttt") -> Any:
        """int64 [M] predicted classes of a method."""
        return self._from(self._s.predictions(method))

    def probabilities(self, method: str = "ttt") -> Any:
        """float32 [M, C] class probabilities of a method, or None (majority vote has none)."""
        return self._from(self._s.probabilities(method))

    def cross_entropy(self, method: str = "ttt") -> Any:
        """float64 [M] cross-entropy of the true label per test point, or None (no test labels)."""
        return self._from(self._s.cross_entropy(method))

    @property
    def neighbors(self) -> Any:
        """int64 [M, k] training indices of each test point's nearest neighbours (neighbors.npy)."""
        return self._from(self._s.neighbors())

    @property
    def test_labels(self) -> Any:
        """int64 [M] test labels, or None."""
        return self._from(self._s.test_labels())

    @property
    def head(self) -> Tuple[Any, Any]:
        """(weight [C, d], bias [C]) of the global head TTT started from (head.safetensors)."""
        w, b = self._s.head()
        return self._from(w), self._from(b)

    @property
    def ttt_heads(self) -> Tuple[Any, Any]:
        """(weights [M, C, d], biases [M, C]) of the adapted heads (run(..., keep_heads=True)), else (None, None)."""
        w, b = self._s.ttt_heads()
        return self._from(w), self._from(b)

    @property
    def warnings(self) -> List[str]:
        """The warnings of the run (also printed on stderr when they arose)."""
        return list(self._s.warnings())

    @property
    def timing(self) -> Dict[str, float]:
        """Seconds per stage, in run order."""
        return dict(self._s.timing())

    def _from(self, x: Any) -> Any:
        return _from_core(x, self._as_torch)

    def __repr__(self) -> str:
        d = self.to_dict()
        acc = {m: v.get("accuracy") for m, v in d["methods"].items()}
        return f"tttlab.Result(dataset={d['dataset']['name']!r}, methods={acc})"


def run(train_x: Any, train_y: Any, test_x: Any, test_y: Any = None, head: Any = None,
        preset: str = "default", tune: bool = False, seed: int = 0, *, val_x: Any = None, val_y: Any = None,
        k: Optional[int] = None, steps: Optional[int] = None, lr: Optional[float] = None,
        weight_decay: Optional[float] = None, mode: str = "erm", majority_k: Optional[int] = None,
        index: str = "auto", device: str = "auto", bootstrap: Optional[int] = None,
        adaptive: bool = False, compare_fixed: bool = False, keep_heads: bool = False,
        name: str = "arrays", verbose: bool = False, threads: Optional[int] = 0,
        **options: Any) -> Result:
    """``tttlab run`` on arrays in memory: the global head vs majority vote vs TTT, with bootstrap CIs.

    The same computation as ``tttlab run --data npy:DIR`` on an embedding folder holding these
    arrays (train_features.npy = train_x, ...), with the same checks and messages.

    Args:
        train_x, train_y: training features float [N, d] and labels [N] (integers 0..C-1, C = 1 + the
            largest training label).
        test_x, test_y: test features [M, d] and optional labels [M] (without them every method
            still predicts, and no metrics are computed).
        head: the global head, a ``torch.nn.Linear(d, C)`` or (weight [C, d], bias [C]); None trains
            one as ``tttlab run`` does (Adam until the loss stops improving).
        preset: the settings to start from (:func:`presets`; "default" is ``tttlab run``'s).
        tune: choose TTT's k, steps, lr and majority vote's k on validation data (val_x/val_y if
            given, else a stratified hold-out of train), as --tune.
        seed: seed of the head's training, the hold-out and the bootstrap (--seed).
        val_x, val_y: optional validation split (val_features.npy, val_labels.npy).
        k, steps, lr, weight_decay, mode, majority_k, index, device, bootstrap, adaptive,
            compare_fixed: as the flags of the same names (None keeps the preset's value).
        keep_heads: keep every adapted head (:attr:`Result.ttt_heads`).
        name: the data set's name in the report and results.json ("dataset.name", "config.data").
        verbose: show progress bars on stderr (``tttlab run`` without --quiet).
        threads: CPU threads (0 = every core; None leaves the current setting).
        **options: the other flags of ``tttlab run``, named with underscores: head_epochs,
            head_batch_size, head_lr, head_wd, head_patience, beta1, beta2, eps, fused,
            points_per_batch, memory_budget_mb, tune_k, tune_steps, tune_lr, tune_majority_k (lists),
            tune_points, tune_holdout, adaptive_holdouts (weight_decay is --wd).

    Returns:
        A :class:`Result`.

    Raises:
        ValueError: the CLI's one-line message for bad input (arrays named by their embedding
            folder files); TypeError: an unknown option or an argument of the wrong kind.
    """
    _threads(threads)
    as_torch = isinstance(test_x, torch.Tensor)
    arrays = {
        "train_features.npy": _to_core(train_x, "train_x"),
        "train_labels.npy": _to_core(train_y, "train_y"),
        "test_features.npy": _to_core(test_x, "test_x"),
        "test_labels.npy": _to_core(test_y, "test_y"),
        "val_features.npy": _to_core(val_x, "val_x"),
        "val_labels.npy": _to_core(val_y, "val_y"),
    }
    w = b = None
    if head is not None:
        hw, hb = _head_arrays(head)
        w, b = _to_core(hw, "head weight"), _to_core(hb, "head bias")
    opts: Dict[str, Any] = dict(preset=preset, tune=bool(tune), seed=int(seed), k=k, steps=steps, lr=lr,
                                weight_decay=weight_decay, mode=mode, majority_k=majority_k, index=index,
                                device=device, bootstrap=bootstrap, adaptive=bool(adaptive),
                                compare_fixed=bool(compare_fixed), keep_heads=bool(keep_heads), name=name)
    opts.update(options)
    _core.set_progress(bool(verbose))
    study = _core.run(arrays, w, b, opts, as_torch)
    return Result(study, as_torch)
