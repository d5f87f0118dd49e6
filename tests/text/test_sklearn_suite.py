"""scikit-learn's own text tests with fastgen's vectorizers swapped in.

scikit-learn's wheel ships ``sklearn/feature_extraction/tests/test_text.py``.  The test
copies it, makes ``CountVectorizer`` and ``HashingVectorizer`` fastgen's (fastgen has no
``TfidfVectorizer`` yet: scikit-learn's stays, and its tests keep testing
scikit-learn), and runs it with pytest in a child process, against whichever fastgen
this suite tests (the installed wheel in CI).
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
from fastgen.text import CountVectorizer, HashingVectorizer  # noqa: E402  (swapped in)


def test_fastgen_vectorizers_are_swapped_in():
    assert CountVectorizer.__module__.startswith("fastgen.")
    assert HashingVectorizer.__module__.startswith("fastgen.")

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
