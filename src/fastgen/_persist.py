"""Model files for every fastgen estimator: :func:`save`, :func:`load` and :func:`info`.

A model file is the container of :mod:`fastgen._modelfile` (a zip holding
``manifest.json`` plus ``.npy`` members read with ``allow_pickle=False``, each
member's SHA-256 in the manifest).  Classical estimators are stored as data only,
in the manifest entries

* ``params``: ``get_params(deep=False)`` in the tagged JSON of
  :mod:`fastgen._persist_codec` (tuples, sets, numpy arrays/scalars/dtypes, nested
  estimators, ... come back with their types).  Callables and arbitrary objects are
  refused with a ``ValueError`` naming the parameter;
* ``state``: the fitted attributes listed by the estimator's
  :class:`fastgen._persist_specs.Spec`, in the same encoding, so dtypes (including
  object arrays of ``str`` labels) and values come back exactly and the loaded
  model's outputs equal the original's bit for bit;
* ``summary``: a few kind-specific facts for :func:`info`; and ``payload_sha256``,
  a checksum of kind, params, state and summary, so that an edited manifest is
  refused like an edited member.

Loading only ever instantiates the classes of
:data:`fastgen._persist_specs.SPECS` (a whitelist keyed by kind strings such as
``"fastgen.MultinomialNB"``; a kind is never imported or evaluated), then checks the
restored state for consistency (shapes, dtypes, probabilities summing to 1,
vocabulary indices forming a permutation, ...): a file whose arrays were replaced
and re-checksummed raises :class:`ModelFileError` instead of producing a broken
model.

Neural models (``Autoencoder``/``VAE``) are saved by their ``export`` (ONNX graphs)
and :func:`load` returns the onnxruntime inference model of :func:`fastgen.nn.load`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import Any

import numpy as np

from ._modelfile import ModelFileError, open_modelfile, peek_kind, write_modelfile
from ._persist_codec import Decoder, Encoder, referenced_members, unknown_kind
from ._persist_specs import NEURAL_KIND_NAMES, NEURAL_KINDS, SPECS, jsonable, spec_for

__all__ = ["NEURAL_KINDS", "ModelFileError", "info", "load", "save"]


def _payload_sha256(kind: str, params: Any, state: Any, summary: Any) -> str:
    blob = json.dumps([kind, params, state, summary], sort_keys=True, allow_nan=False,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _neural_model(model: Any) -> bool:
    module = sys.modules.get("fastgen.nn._keras_models")
    return module is not None and isinstance(model, (module.Autoencoder, module.VAE))


def save(model: Any, path: str | os.PathLike) -> None:
    """Write ``model`` to a fastgen model file at ``path`` (atomically).

    Parameters
    ----------
    model : fastgen estimator or scikit-learn ``Pipeline`` of fastgen estimators
        Fitted or not.  ``Autoencoder``/``VAE`` are written by their ``export``: the
        file holds the ONNX inference model, and :func:`load` returns an
        ``OnnxAutoencoder``/``OnnxVAE``.
    path : str or path-like
        Destination; replaced if it exists.

    Raises
    ------
    ValueError
        A parameter or attribute is not data (a callable tokenizer, a scikit-learn
        estimator inside a ``TextClassifier``, an object array of mixed labels, ...).
    """
    if _neural_model(model):
        model.export(path)
        return
    encoder = Encoder()
    enc = encoder.estimator(model, "")
    _, spec = spec_for(model)
    summary = jsonable(spec.summary(model)) if spec.summary is not None else {}
    kind = enc["kind"]
    metadata = {
        "params": enc["params"],
        "state": enc["state"],
        "summary": summary,
        "numpy_version": np.__version__,
        "payload_sha256": _payload_sha256(kind, enc["params"], enc["state"], summary),
    }
    write_modelfile(path, kind, encoder.members, metadata)




def _open(path: str | os.PathLike, kind: Any = None, max_size: int | None = None) -> Any:
    """Open a classical model file: the manifest's own checksum and the members it
    uses are checked before any member is decompressed, and members are then read
    as the decoder reaches them (after the entry naming them passed its checks)."""
    spath = os.fspath(path)

    def referenced(manifest: dict) -> list[str]:
        if manifest.get("kind") in NEURAL_KINDS:
            return list(manifest["members"])  # read by fastgen.nn.load, which checks them
        if manifest.get("kind") not in SPECS:
            raise ModelFileError(f"{spath}: {unknown_kind(manifest.get('kind'))}")
        _check_payload(manifest, spath)
        refs = referenced_members([manifest["params"], manifest["state"]])
        if len(refs) != len(set(refs)):
            raise ModelFileError(f"{spath}: a member is referenced twice")
        return refs

    return open_modelfile(path, kind=kind, max_size=max_size, referenced=referenced)


def _check_payload(man: dict, path: str) -> None:
    for key in ("params", "state", "summary", "payload_sha256"):
        if key not in man:
            raise ModelFileError(f"{path}: manifest lacks {key!r}")
    try:
        expected = _payload_sha256(man["kind"], man["params"], man["state"], man["summary"])
    except (ValueError, RecursionError):  # NaN/Infinity literals, absurd nesting
        expected = None
    if man["payload_sha256"] != expected:
        raise ModelFileError(
            f"{path}: checksum mismatch for the manifest's parameters/state (file tampered "
            "or corrupt)"
        )


def load(path: str | os.PathLike, *, trusted: bool = False, max_size: int | None = None,
         **kwargs: Any) -> Any:
    """Load a model file written by :func:`save` (or a neural model's ``export``).

    Parameters
    ----------
    path : str or path-like
    kind : str or tuple of str, optional (keyword)
        Accepted kinds, as :func:`info` names them (e.g. ``"fastgen.MultinomialNB"``,
        ``"fastgen.OnnxVAE"``; a neural file's own kind, ``"vae"``, works too); a file
        of any other kind raises :class:`ModelFileError`.
    **kwargs
        For neural files only (``device``, ``n_jobs``, ``intra_op_num_threads``, ``batch_size``,
        ``allow_spinning``, ``io_binding``): passed to :func:`fastgen.nn.load`.  Given for a
        classical model file they raise ``TypeError``.

    Returns
    -------
    The fitted (or unfitted, as saved) fastgen estimator or scikit-learn ``Pipeline``;
    for neural files the onnxruntime inference model (``OnnxAutoencoder``,
    ``OnnxVAE`` or ``OnnxKerasModel``).

    Raises
    ------
    ModelFileError
        Not a model file, truncated, tampered with (checksums), of a newer format,
        of an unknown or unexpected kind, or with inconsistent contents.
    """
    model, _, _ = _load(path, trusted, max_size, kwargs)
    return model


def _load(path: str | os.PathLike, trusted: bool, max_size: int | None,
          kwargs: dict[str, Any], neural_defaults: dict[str, Any] | None = None,
          ) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """``(model, manifest, members)`` of a fully checked model file (see :func:`load`).

    ``neural_defaults`` are options of :func:`fastgen.nn.load` used for a neural file
    unless ``kwargs`` gives them (ignored for a classical file).
    """
    spath = os.fspath(path)
    expected = kwargs.pop("kind", None)
    accepted = None
    if expected is not None:
        accepted = (expected,) if isinstance(expected, str) else expected
        if (not isinstance(accepted, (tuple, list)) or not accepted
                or not all(isinstance(k, str) for k in accepted)):
            raise TypeError(f"kind must be a str or a tuple of str, got {expected!r}")
        # info's names of the neural kinds are accepted as the manifests' own
        names = {v: k for k, v in NEURAL_KIND_NAMES.items()}
        accepted = tuple(names.get(k, k) for k in accepted)
    file_kind = peek_kind(path)
    if file_kind in NEURAL_KINDS:
        if accepted is not None and file_kind not in accepted:
            raise ModelFileError(f"{spath}: model file holds a {file_kind!r} model, expected "
                                 f"{' or '.join(map(repr, accepted))}")
        from .nn import load as load_neural

        model = load_neural(path, max_size=max_size, **{**(neural_defaults or {}), **kwargs})
        return model, model.manifest, {}
    with _open(path, kind=accepted, max_size=max_size) as mf:
        if mf.kind in NEURAL_KINDS:  # pragma: no cover - the peek found it unless it raced
            raise ModelFileError(f"{spath}: changed while being read")
        if kwargs:
            raise TypeError(
                f"fastgen.load() got keyword argument(s) {sorted(kwargs)} that only apply to "
                f"neural model files ({', '.join(NEURAL_KINDS)}); {spath} holds a "
                f"{mf.kind!r} model"
            )
        decoder = Decoder(mf.members, spath, trusted=bool(trusted))
        try:
            model = decoder.estimator(
                {"kind": mf.kind, "params": mf.manifest["params"],
                 "state": mf.manifest["state"]},
                "",
            )
        except RecursionError as exc:
            raise ModelFileError(f"{spath}: manifest nests too deeply") from exc
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(
                f"{spath}: malformed manifest ({type(exc).__name__}: {exc})") from exc
        unused = sorted(set(mf.members) - decoder.used)
        if unused:  # pragma: no cover - refused before reading by _open
            raise ModelFileError(f"{spath}: members not referenced by the manifest: {unused}")
        return model, mf.manifest, dict(mf.members.items())


def _describe(enc: Any, members: dict) -> Any:
    """A readable, JSON-ready view of encoded params (nothing is built)."""
    if type(enc) is list:
        return [_describe(x, members) for x in enc]
    if type(enc) is not dict:
        return enc
    kind = enc.get("$type")
    if kind in ("tuple", "set", "frozenset"):
        return [_describe(x, members) for x in enc.get("items", [])]
    if kind == "dict":
        items = enc.get("items", [])
        return {str(_describe(k, members)): _describe(v, members) for k, v in items}
    if kind == "float":
        return enc.get("value")
    if kind == "dtype":
        return enc.get("name") or enc.get("str")
    if kind == "estimator":
        return {"kind": enc.get("kind"), "params": _describe_params(enc.get("params"), members)}
    if kind in ("ndarray", "npscalar", "object_ndarray"):
        a = members.get(enc.get("member"))
        if isinstance(a, np.ndarray):
            if kind == "npscalar":
                return jsonable(a[()])
            if a.size <= 16:
                return jsonable(a)
            return f"array(dtype={a.dtype}, shape={a.shape})"
    if kind in ("strings", "str_int_dict"):
        offsets = members.get((enc.get("keys") or enc).get("offsets"))
        n = offsets.size - 1 if isinstance(offsets, np.ndarray) else "?"
        return f"<{n} strings>" if kind == "strings" else f"<mapping of {n} terms>"
    if kind == "RandomState":
        return "RandomState(...)"
    return f"<{kind}>"


def _describe_params(params: Any, members: dict) -> dict:
    if type(params) is not dict:
        return {}
    return {str(k): _describe(v, members) for k, v in params.items()}


def info(path: str | os.PathLike, *, trusted: bool = False,
         max_size: int | None = None) -> dict[str, Any]:
    """Describe a model file, after every check :func:`load` makes (the model is built
    and dropped, so a file ``load`` would refuse raises here too).

    Parameters
    ----------
    path : str or path-like
    trusted, max_size
        As for :func:`load`.

    Returns
    -------
    dict
        ``kind`` (the class :func:`load` returns, e.g. ``"fastgen.GaussianHMM"``,
        ``"fastgen.OnnxVAE"``, ``"sklearn.Pipeline"``), ``format_version``,
        ``fastgen_version``, ``params`` (a readable
        JSON-ready view), ``summary`` (kind-specific: ``fitted``, ``n_features``,
        ``classes``, ``n_components``, ``vocabulary_size``, input/latent dims, ...),
        ``n_members`` and ``size_bytes``.

    Raises
    ------
    ModelFileError
        As :func:`load`.
    """
    spath = os.fspath(path)
    # everything load refuses, info refuses: the model is built (on the CPU) and dropped
    _, man, members = _load(path, trusted, max_size, {}, {"device": "cpu", "n_jobs": 1})
    kind = man["kind"]
    if kind in NEURAL_KINDS:
        graphs = man["graphs"]
        # the manifest's own kind is what fastgen.nn.load(kind=...) takes
        summary: dict[str, Any] = {"fitted": True, "nn_kind": kind, "graphs": sorted(graphs)}
        kind = NEURAL_KIND_NAMES[kind]
        for key, name in (("input_shape", "input_dim"), ("latent_shape", "latent_dim")):
            shape = man.get(key)
            if isinstance(shape, list) and shape:
                summary[name] = shape[-1]
        if isinstance(man.get("output_shapes"), list):
            summary["output_shapes"] = man["output_shapes"]
        if "opset" in man:
            summary["opset"] = man["opset"]
        if isinstance(man.get("quantization"), dict):  # an int8 copy: method and accuracy
            summary["quantization"] = man["quantization"]
        params = man.get("params", {})
    else:
        summary = man["summary"]
        params = _describe_params(man["params"], members)
    return {
        "kind": kind,
        "format_version": man["format_version"],
        "fastgen_version": man.get("fastgen_version"),
        "params": params,
        "summary": summary,
        "n_members": len(man["members"]),
        "size_bytes": os.path.getsize(spath),
    }
