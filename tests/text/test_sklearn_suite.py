"""scikit-learn's own text tests with fastgen's vectorizers swapped in.

scikit-learn's wheel ships ``sklearn/feature_extraction/tests/test_text.py``.  The test
copies it, makes ``CountVectorizer``, ``HashingVectorizer``, ``TfidfTransformer`` and
``TfidfVectorizer`` fastgen's, and runs it with pytest in a child process, against
whichever fastgen this suite tests (the installed wheel in CI).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")

#: tests of scikit-learn internals that fastgen does not have, and why
NOT_APPLICABLE = {
    "test_countvectorizer_sort_features_64bit_sparse_indices": (
        "calls CountVectorizer._sort_features, a private scikit-learn helper; fastgen "
        "orders the columns inside its counting kernel"
    ),
}

_MARKER = "\nJUNK_FOOD_DOCS = ("
_SWAP = '''
from fastgen.text import (  # noqa: E402  (swapped in)
    CountVectorizer,
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)


def test_fastgen_vectorizers_are_swapped_in():
    for cls in (CountVectorizer, HashingVectorizer, TfidfTransformer, TfidfVectorizer):
        assert cls.__module__.startswith("fastgen."), cls

'''


def test_scikit_learn_text_tests_pass_with_fastgen(tmp_path: Path) -> None:
    source = Path(sklearn.__file__).parent / "feature_extraction" / "tests" / "test_text.py"
    if not source.exists():
        pytest.skip("this scikit-learn installation ships no tests")
    text = source.read_text(encoding="utf-8")
    assert _MARKER in text, "scikit-learn's test_text.py changed shape: update the swap"
    suite = tmp_path / "test_sklearn_text.py"
    suite.write_text(text.replace(_MARKER, _SWAP + _MARKER, 1), encoding="utf-8")
    deselect = " and ".join(f"not {name}" for name in NOT_APPLICABLE)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", deselect,
         str(suite)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary


def test_check_estimator_on_the_vectorizers() -> None:
    """scikit-learn's estimator checks, where they apply: for string input, scikit-learn
    runs only the checks that take raw documents (its own vectorizers get the same)."""
    import warnings

    from sklearn.utils.estimator_checks import check_estimator

    from fastgen.text import CountVectorizer, HashingVectorizer, TfidfVectorizer

    for estimator in (CountVectorizer(), HashingVectorizer(), TfidfVectorizer()):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not inherit from `sklearn")
            results = check_estimator(estimator, on_fail=None)
        failed = [r["check_name"] for r in results if r["status"] == "failed"]
        assert results and not failed, (type(estimator).__name__, failed)
