"""Every public class and function has a numpydoc docstring that says what it takes and
gives, and its Examples run.

Public: what ``__all__`` of each public module lists, and the public methods of those
classes (those fastgen defines).  Checked with ``numpydoc.validate``:

* everything: a docstring (GL08), every parameter documented and described (PR01,
  PR02, PR07), a Returns section with descriptions where something is returned (RT01,
  RT03);
* classes and module-level functions also: See Also (SA01) and Examples (EX01);
  estimators (a ``fit`` method): an Attributes section;
* no parameter described only by reference to scikit-learn or hmmlearn.

Then the doctests of every such docstring run (in a temporary folder: some write files).
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import os
import re

import numpy as np
import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")
docscrape = pytest.importorskip("numpydoc.docscrape")

#: the public modules whose docstrings are complete (each joins once its pass is done)
MODULES: tuple[str, ...] = (
    "fastgen", "fastgen.text", "fastgen.naive_bayes", "fastgen.pipeline", "fastgen.hmm",
    "fastgen.nn", "fastgen.batch", "fastgen.dask",
)  # fmt: skip
EVERYWHERE = {"GL08", "PR01", "PR02", "PR07", "RT01", "RT03"}
TOP_LEVEL = EVERYWHERE | {"SA01", "EX01"}
#: a description that only points elsewhere
BY_REFERENCE = re.compile(r"^\W*(same as|as in|as|see)\s+(scikit-learn|sklearn|hmmlearn)\W*$", re.I)


def public_objects() -> dict[str, object]:
    """``{dotted name: object}``: classes and functions of the public modules'
    ``__all__`` (each under the first module that lists it)."""
    found: dict[str, object] = {}
    seen: set[int] = set()
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.ismodule(obj) or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            found[f"{name}.{attr}"] = obj
    return found


def public_methods(cls: type) -> list[str]:
    """Public methods of ``cls`` that fastgen defines (inherited ones included)."""
    out = []
    for attr, value in inspect.getmembers(cls):
        if attr.startswith("_") or isinstance(inspect.getattr_static(cls, attr), property):
            continue
        func = getattr(value, "__func__", value)
        if callable(func) and getattr(func, "__module__", "").startswith("fastgen"):
            out.append(attr)
    return out


def targets() -> list[tuple[str, bool]]:
    """``(dotted name, top level)`` of everything checked."""
    out = []
    for name, obj in PUBLIC.items():
        out.append((name, True))
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            out += [(f"{name}.{m}", False) for m in public_methods(obj)]
    return out


PUBLIC = public_objects()
TARGETS = targets()


@pytest.mark.parametrize("name, top", TARGETS, ids=[t[0] for t in TARGETS])
def test_numpydoc_sections(name, top):
    result = numpydoc_validate.validate(name)
    obj = result.get("obj") if isinstance(result, dict) else None
    wanted = TOP_LEVEL if top else EVERYWHERE
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        wanted = {"GL08", "SA01"}  # an error: what it means and where it comes from
    errors = [f"{code}: {msg}" for code, msg in result["errors"] if code in wanted]
    assert not errors, f"{name}:\n  " + "\n  ".join(errors)
    doc = docscrape.FunctionDoc(obj) if inspect.isroutine(obj) else None
    if top and inspect.isclass(obj):
        doc = docscrape.ClassDoc(obj)
        if hasattr(obj, "fit"):
            assert doc["Attributes"], f"{name}: an estimator needs an Attributes section"
    if doc is not None:
        for param in doc["Parameters"]:
            text = " ".join(param.desc).strip()
            assert not BY_REFERENCE.match(text), f"{name}: {param.name} is described as {text!r}"


def _doctests(name: str, obj: object) -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    module = inspect.getmodule(obj)
    tests = finder.find(obj, name, module=module, globs={})
    return [t for t in tests if t.examples]


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_examples_run(name, tmp_path, monkeypatch):
    obj = PUBLIC[name]
    tests = _doctests(name, obj)
    if not tests:
        pytest.skip(f"{name} has no examples (test_numpydoc_sections requires them)")
    monkeypatch.chdir(tmp_path)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    report: list[str] = []
    with np.printoptions(legacy=False):
        for test in tests:
            runner.run(test, out=report.append)
    failed = runner.summarize(verbose=False).failed
    assert failed == 0, f"{name}: {failed} failing example(s)\n" + "".join(report)[-4000:]
    assert os.getcwd() == str(tmp_path)


def test_shared_parts_are_filled_in_place():
    from fastgen._docstrings import fill

    part = "x : int\n    The value, ``\\b`` kept."

    @fill(x=part, unused="y : int")
    def f(x):
        """Double ``x``.

        Parameters
        ----------
        {{x}}
        """

    assert "{{" not in f.__doc__
    assert "\n        x : int\n            The value, ``\\b`` kept.\n" in f.__doc__
    with pytest.raises(KeyError):

        @fill()
        def g():
            """{{missing}}"""

    for name, obj in PUBLIC.items():  # no placeholder left in a public docstring
        assert "{{" not in (obj.__doc__ or ""), name
