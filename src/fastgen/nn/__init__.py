"""Neural generative models: Keras-trained Autoencoder and VAE, served by onnxruntime.

Training (:class:`Autoencoder`, :class:`VAE`) and export (``est.export(path)``,
:func:`export_keras`) need the ``train`` extra (tensorflow, keras, tf2onnx, onnx) and
import it lazily; :func:`load` and the models it returns use onnxruntime only and
never import TensorFlow.  :func:`quantize_dynamic` writes an int8 copy of a model file.

Names are resolved lazily so that ``import fastgen.nn`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from fastgen._extras import EXTRAS, missing_packages

_NAMES = {
    "Autoencoder": "_keras_models",
    "VAE": "_keras_models",
    "export_keras": "_export",
    "ExportError": "_export",
    "load": "_inference",
    "OnnxAutoencoder": "_inference",
    "OnnxVAE": "_inference",
    "OnnxKerasModel": "_inference",
    "ModelFileError": "fastgen._modelfile",
    "quantize_dynamic": "_quantize",
}

__all__ = sorted([*_NAMES, "TRAIN_PACKAGES", "missing_train_packages"])

#: what training and export need (the ``train`` extra)
TRAIN_PACKAGES = EXTRAS["train"]


def missing_train_packages() -> list[str]:
    """The packages training and export need that are not installed.

    Checked without importing them, so the call is fast and never loads TensorFlow.

    Returns
    -------
    list of str
        Import names from :data:`TRAIN_PACKAGES` (``tensorflow``, ``keras``,
        ``tf2onnx``, ``onnx``) that are missing; empty when the ``train`` extra is
        installed.

    See Also
    --------
    Autoencoder : Needs these packages to train.
    export_keras : Needs these packages to export.

    Examples
    --------
    >>> from fastgen.nn import missing_train_packages
    >>> missing = missing_train_packages()
    >>> isinstance(missing, list)
    True
    >>> if missing:
    ...     print("pip install 'fastgen-models[train]' for", ", ".join(missing))
    """
    return missing_packages("train")


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'fastgen.nn' has no attribute {name!r}")
    full = module if module.startswith("fastgen.") else f"{__name__}.{module}"
    value = getattr(import_module(full), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
