"""fastgen: fast classical generative models with scikit-learn and hmmlearn APIs.

Submodules are imported on first use so that ``import fastgen`` stays light:
``fastgen.text``, ``fastgen.naive_bayes``, ``fastgen.pipeline``, ``fastgen.nn``.
"""

from importlib import import_module

__version__ = "0.1.0"

_SUBMODULES = ("text", "naive_bayes", "pipeline", "nn")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'fastgen' has no attribute {name!r}")
