"""fastgen: fast classical generative models with scikit-learn and hmmlearn APIs.

Submodules are imported on first use so that ``import fastgen`` stays light:
``fastgen.text``, ``fastgen.naive_bayes``, ``fastgen.pipeline``, ``fastgen.hmm``,
``fastgen.nn``.
"""

from importlib import import_module

__version__ = "0.1.0"

_SUBMODULES = ("text", "naive_bayes", "pipeline", "hmm", "nn")

__all__ = ["__version__", "load", *_SUBMODULES]


def load(path, **kwargs):
    """Load a fastgen model file; the inference model runs on onnxruntime.

    Neural model files (``Autoencoder``/``VAE``/``export_keras``) for now; see
    :func:`fastgen.nn.load` for ``device``, ``intra_op_num_threads`` and ``batch_size``.
    """
    from .nn import load as load_nn

    return load_nn(path, **kwargs)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'fastgen' has no attribute {name!r}")
