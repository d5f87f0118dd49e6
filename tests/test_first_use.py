"""The first use of a fresh installation compiles nothing and writes nothing.

A new interpreter with an empty ``HOME`` (and cache folders) fits and uses every HMM
and a text Naive Bayes model: it must not import Numba, print anything, or leave a file
in the home folder, the cache folders or the installed package (``__pycache__`` aside).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import fastgen

_CHILD = r"""
import json, sys
import numpy as np
import fastgen.hmm, fastgen.naive_bayes, fastgen.text

rng = np.random.RandomState(0)
X = rng.randn(300, 2)
for ct in ("spherical", "diag", "full", "tied"):
    m = fastgen.hmm.GaussianHMM(3, covariance_type=ct, n_iter=3, random_state=0).fit(X)
    m.predict(X), m.predict_proba(X), m.score(X)
sym = rng.randint(4, size=(300, 1))
counts = rng.poisson(3.0, size=(300, 3))
trials = rng.multinomial(5, [0.2, 0.3, 0.5], size=300)
for m, data in [
    (fastgen.hmm.CategoricalHMM(3, n_iter=3, random_state=0), sym),
    (fastgen.hmm.GMMHMM(2, n_mix=2, n_iter=3, random_state=0), X),
    (fastgen.hmm.PoissonHMM(3, n_iter=3, random_state=0), counts),
    (fastgen.hmm.MultinomialHMM(3, n_trials=5, n_iter=3, random_state=0), trials),
    (fastgen.hmm.VariationalGaussianHMM(3, n_iter=3, random_state=0), X),
    (fastgen.hmm.VariationalCategoricalHMM(3, n_iter=3, random_state=0), sym),
]:
    m.fit(data)
    m.predict(data), m.predict_proba(data), m.score(data)
docs = ["red green blue", "green blue cyan", "blue cyan pink", "red pink"] * 10
Xc = fastgen.text.CountVectorizer().fit_transform(docs)
fastgen.naive_bayes.MultinomialNB().fit(Xc, [0, 1, 0, 1] * 10).predict(Xc)
print(json.dumps({name: name in sys.modules for name in ("numba", "scipy.special")}))
"""


def _files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root)) for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }  # fmt: skip


def test_first_use_compiles_and_writes_nothing(tmp_path: Path) -> None:
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    cache.mkdir()
    package = Path(fastgen.__file__).resolve().parent
    before = _files(package)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "FASTGEN_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(cache))
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD], cwd=home, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no compile notice, no warning
    # no Numba; no scipy.special (0.15 s to import) on any HMM family's path
    assert json.loads(proc.stdout) == {"numba": False, "scipy.special": False}
    assert list(home.iterdir()) == [] and list(cache.iterdir()) == []
    assert _files(package) == before
