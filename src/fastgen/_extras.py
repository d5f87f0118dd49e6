"""The optional parts of fastgen and the packages each needs (the distribution's extras).

A feature whose packages are missing raises :class:`MissingExtraError`, which names the
feature, the missing packages and the ``pip install`` line that brings them, from the
Python API and the command line alike.  Packages are looked up without importing them.
"""

from __future__ import annotations

import importlib.util

__all__ = ["DISTRIBUTION", "EXTRAS", "MissingExtraError", "missing_packages", "require"]

#: the name fastgen is installed under (its import name stays ``fastgen``)
DISTRIBUTION = "fastgen-models"

#: per extra, the importable packages it installs that fastgen needs
EXTRAS: dict[str, tuple[str, ...]] = {
    "train": ("tensorflow", "keras", "tf2onnx", "onnx"),
    "dask": ("dask",),  # distributed only for a cluster client, which the user imports
    "io": ("pyarrow",),
    "demo": ("matplotlib",),
}


class MissingExtraError(ModuleNotFoundError):
    """A feature needs an extra that is not installed.

    A ``ModuleNotFoundError`` (and so an ``ImportError``) whose message says what to
    install.  ``extra`` names the extra, ``missing`` the packages not found.

    Examples
    --------
    >>> from fastgen._extras import MissingExtraError
    >>> err = MissingExtraError("Autoencoder.fit", "train", ["keras"])
    >>> print(err)
    Autoencoder.fit needs the 'train' extra (missing: keras); pip install 'fastgen-models[train]'
    >>> isinstance(err, ImportError)
    True
    """

    def __init__(self, what: str, extra: str, missing: list[str]) -> None:
        self.extra = extra
        self.missing = list(missing)
        super().__init__(
            f"{what} needs the {extra!r} extra (missing: {', '.join(self.missing)}); "
            f"pip install '{DISTRIBUTION}[{extra}]'",
            name=self.missing[0] if self.missing else None,
        )


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a broken or blocked package counts as missing
        return False


def missing_packages(extra: str) -> list[str]:
    """The packages of ``extra`` (a key of :data:`EXTRAS`) that are not installed."""
    return [name for name in EXTRAS[extra] if not _installed(name)]


def require(extra: str, what: str) -> None:
    """Raise :class:`MissingExtraError` naming ``what`` (the feature) when a package of
    ``extra`` is not installed."""
    missing = missing_packages(extra)
    if missing:
        raise MissingExtraError(what, extra, missing)
