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
    ``Pipeline`` objects whose steps are fastgen estimators.  The file is written to
    a temporary name and renamed, so an existing file at ``path`` is replaced only
    once the new one is complete.  ``Autoencoder`` and ``VAE`` are saved by their
    ``export``: the file holds the ONNX inference model.  ``model.save(path)`` does
    the same.

    Parameters
    ----------
    model : fastgen estimator or scikit-learn Pipeline of fastgen estimators
        The model to store.  Its parameters and fitted attributes are written as
        data only (JSON and ``.npy`` arrays, never a pickle).
    path : str or path-like
        Destination file; by convention its extension is ``.fgm``.  Replaced if it
        exists.

    Raises
    ------
    ValueError
        A parameter or attribute is not data (for instance a callable tokenizer),
        so it cannot be stored.

    See Also
    --------
    load : Read the model back.
    info : Describe a model file without using the model.

    Examples
    --------
    >>> import fastgen
    >>> from fastgen.naive_bayes import MultinomialNB
    >>> from fastgen.pipeline import TextClassifier
    >>> from fastgen.text import CountVectorizer
    >>> docs = ["good fun film", "bad dull film", "great fun", "slow weak plot"]
    >>> clf = TextClassifier(CountVectorizer(), MultinomialNB()).fit(docs, [1, 0, 1, 0])
    >>> fastgen.save(clf, "sentiment.fgm")
    >>> fastgen.load("sentiment.fgm").predict(["fun film"]).tolist()
    [1]
    """
    from ._persist import save as _save

    _save(model, path)


def load(path, *, trusted: bool = False, max_size: int | None = None, **kwargs):
    """Load a fastgen model file; loading never executes code from the file.

    Classical files give back the estimator (or ``Pipeline``) exactly as saved, with
    the same outputs bit for bit.  Neural files (``Autoencoder``, ``VAE``,
    ``export_keras``) give the onnxruntime inference model and never import
    TensorFlow.  Every member is checked before use (checksums, sizes, array shapes
    and values, ONNX graphs); see the README's "Security model".

    Parameters
    ----------
    path : str or path-like
        The model file, written by :func:`save`, ``model.save`` or a neural model's
        ``export``.
    trusted : bool, default=False
        A model file may come from anyone, so parameters that would let it act on
        the host (``input="filename"`` or ``"file"``, a custom ``token_pattern``, a
        tokenizer or preprocessor, very long n-grams and the like) are refused.
        Pass True only for files you wrote yourself or got from a source you trust.
    max_size : int, optional
        Cap, in bytes, on the file's total uncompressed size.  None (default) keeps
        fastgen's cap of 2 GiB; raise it to open a larger model you trust.
    **kwargs
        ``kind=`` (a str or a tuple of str, as :func:`info` names kinds, e.g.
        ``"fastgen.MultinomialNB"``) refuses files of any other kind.  For neural
        files, ``device``, ``n_jobs``, ``intra_op_num_threads``, ``batch_size``,
        ``allow_spinning`` and ``io_binding`` are passed to :func:`fastgen.nn.load`;
        given for a classical file they raise ``TypeError``.

    Returns
    -------
    object
        The fastgen estimator or scikit-learn ``Pipeline`` as it was saved (fitted
        or not), or for a neural file an ``OnnxAutoencoder``, ``OnnxVAE`` or
        ``OnnxKerasModel``.

    Raises
    ------
    ModelFileError
        The file is not a model file, is truncated, tampered with, of a newer
        format, of an unexpected kind, has inconsistent contents, or holds
        parameters refused without ``trusted=True``.  The message starts with the
        file's path.
    FileNotFoundError
        No file at ``path``.
    TypeError
        Neural-only options were given for a classical model file.

    See Also
    --------
    save : Write a model file.
    info : Describe a model file without using the model.
    fastgen.nn.load : Load a neural model file with all its options.

    Examples
    --------
    >>> import fastgen
    >>> from fastgen.naive_bayes import MultinomialNB
    >>> X = [[2, 0, 1], [0, 3, 0], [1, 0, 2], [0, 2, 1]]
    >>> MultinomialNB().fit(X, [0, 1, 0, 1]).save("nb.fgm")
    >>> model = fastgen.load("nb.fgm", kind="fastgen.MultinomialNB")
    >>> model.predict([[3, 0, 0]]).tolist()
    [0]

    A file that is not a model file is refused, naming the file:

    >>> with open("notes.fgm", "w") as f:
    ...     _ = f.write("not a model")
    >>> try:
    ...     fastgen.load("notes.fgm")
    ... except fastgen.ModelFileError as exc:
    ...     print(exc)
    notes.fgm: not a fastgen model file, or truncated/corrupt ...
    """
    from ._persist import load as _load

    return _load(path, trusted=trusted, max_size=max_size, **kwargs)


def info(path, *, trusted: bool = False, max_size: int | None = None) -> dict:
    """Verify a model file and describe it.

    The file passes every check :func:`load` makes (the model is built and dropped),
    so a file ``load`` would refuse raises here too.  Neural files are probed on the
    CPU.

    Parameters
    ----------
    path : str or path-like
        The model file.
    trusted : bool, default=False
        Accept parameters that let a file act on the host, as for :func:`load`.
    max_size : int, optional
        Cap, in bytes, on the file's total uncompressed size, as for :func:`load`.

    Returns
    -------
    dict
        ``kind`` (the class :func:`load` returns, e.g. ``"fastgen.GaussianHMM"``,
        ``"fastgen.OnnxVAE"``, ``"sklearn.Pipeline"``), ``format_version``,
        ``fastgen_version``, ``params`` (a readable JSON-ready view), ``summary``
        (kind-specific: ``fitted``, ``n_features``, ``classes``, ``n_components``,
        ``vocabulary_size``, ``input_dim``/``latent_dim``, ...), ``n_members`` and
        ``size_bytes``.

    Raises
    ------
    ModelFileError
        As :func:`load`: the file is corrupt, tampered with, too new, too large or
        refused as untrusted.  The message starts with the file's path.

    See Also
    --------
    load : Build the model.
    save : Write a model file.

    Examples
    --------
    >>> import fastgen
    >>> from fastgen.naive_bayes import MultinomialNB
    >>> X = [[2, 0, 1], [0, 3, 0], [1, 0, 2], [0, 2, 1]]
    >>> fastgen.save(MultinomialNB(alpha=0.5).fit(X, ["a", "b", "a", "b"]), "nb.fgm")
    >>> about = fastgen.info("nb.fgm")
    >>> about["kind"], about["params"]["alpha"], about["summary"]["classes"]
    ('fastgen.MultinomialNB', 0.5, ['a', 'b'])
    """
    from ._persist import info as _info

    return _info(path, trusted=trusted, max_size=max_size)


def get_num_threads() -> int:
    """Number of threads of the HMM kernels.

    Returns
    -------
    int
        The value given to :func:`set_num_threads`, else the environment variable
        ``FASTGEN_NUM_THREADS``, else the number of CPUs this process may run on.

    See Also
    --------
    set_num_threads : Change it.

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

    Raises
    ------
    ValueError
        ``n`` is not a positive integer or None.

    See Also
    --------
    get_num_threads : The number in use.

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
