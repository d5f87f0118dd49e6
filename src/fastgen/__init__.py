"""fastgen: fast classical generative models with scikit-learn and hmmlearn APIs.

Submodules are imported on first use so that ``import fastgen`` stays light:
``fastgen.text``, ``fastgen.naive_bayes``, ``fastgen.pipeline``, ``fastgen.hmm``,
``fastgen.nn``.  Every estimator is saved to one model file with
``fastgen.save(model, path)`` (or ``model.save(path)``), read back with
``fastgen.load(path)`` and described with ``fastgen.info(path)``.
Every kernel is compiled when the package is built: nothing compiles at run time.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_SUBMODULES = ("text", "naive_bayes", "pipeline", "hmm", "nn", "batch")

__all__ = [
    "ModelFileError", "__version__", "get_num_threads", "info", "load", "save",
    "set_num_threads", *_SUBMODULES,
]  # fmt: skip


def save(model, path) -> None:
    """Write ``model`` to one fastgen model file (a zip of JSON and ``.npy`` arrays).

    Works for every fastgen estimator, fitted or not, and for scikit-learn
    ``Pipeline`` objects whose steps are fastgen estimators.  Parameters that are
    not data (e.g. a callable tokenizer) raise ``ValueError``.  ``Autoencoder`` and
    ``VAE`` are saved by their ``export``: the file holds the ONNX inference model.
    Same as ``model.save(path)``.
    """
    from ._persist import save as _save

    _save(model, path)


def load(path, *, trusted: bool = False, max_size: int | None = None, **kwargs):
    """Load a fastgen model file; loading never executes code from the file.

    Classical files give back the estimator (or ``Pipeline``) exactly as saved.
    Neural files (``Autoencoder``/``VAE``/``export_keras``) give the onnxruntime
    inference model; ``kwargs`` (``device``, ``n_jobs``, ``intra_op_num_threads``,
    ``batch_size``, ...) go to :func:`fastgen.nn.load` and are a ``TypeError``
    for classical files.  ``kind=`` (str or tuple) refuses files of other kinds.
    Corrupt, tampered, newer-format or unexpected files raise
    :class:`fastgen.ModelFileError` (a ``ValueError``) naming the file.

    A model file may come from anyone: parameters that would let it act on the host
    (``input="filename"``/``"file"``, a custom ``token_pattern`` and the like) are
    refused unless ``trusted=True``; ``max_size`` (bytes) raises the cap on the
    file's total uncompressed size (see the README's "Security model").
    """
    from ._persist import load as _load

    return _load(path, trusted=trusted, max_size=max_size, **kwargs)


def info(path, *, trusted: bool = False, max_size: int | None = None) -> dict:
    """Verify a model file and describe it without building the model.

    Returns a dict with ``kind``, ``format_version``, ``fastgen_version``, ``params``
    and a kind-specific ``summary`` (e.g. ``n_features``, ``classes``,
    ``n_components``, ``vocabulary_size``, ``input_dim``/``latent_dim``).
    """
    from ._persist import info as _info

    return _info(path, trusted=trusted, max_size=max_size)


def get_num_threads() -> int:
    """Number of threads of the HMM kernels (see :func:`set_num_threads`).

    Examples
    --------
    >>> import fastgen
    >>> fastgen.get_num_threads() >= 1
    True
    """
    from ._threads import get_num_threads as _get

    return _get()


def set_num_threads(n: int | None) -> None:
    """Set the number of threads of the HMM kernels, process-wide.

    The default is the environment variable ``FASTGEN_NUM_THREADS``, else the number of
    CPUs the process may run on.  Results do not depend on the number of threads.

    Parameters
    ----------
    n : int or None
        A positive number of threads, or None for the default.

    Examples
    --------
    >>> import fastgen
    >>> fastgen.set_num_threads(2)
    >>> fastgen.get_num_threads()
    2
    >>> fastgen.set_num_threads(None)
    """
    from ._threads import set_num_threads as _set

    _set(n)


def __getattr__(name: str):
    if name == "ModelFileError":
        from ._modelfile import ModelFileError

        return ModelFileError
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'fastgen' has no attribute {name!r}")
