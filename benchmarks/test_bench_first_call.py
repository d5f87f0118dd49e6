"""First call: a fresh process on a fresh install of the built package, empty cache.

Group ``first call: fresh process, fresh install, empty cache``: what a user waits for
the first time they use fastgen after ``pip install``, against hmmlearn + scikit-learn
in the same run.  Every round (setup, untimed) installs fastgen into a brand-new folder:

* the wheel, when there is one (``FASTGEN_BENCH_WHEEL``, else the newest ``dist/*.whl``
  that fits this interpreter and is not older than ``src/fastgen``):
  ``python -m pip install --no-deps --no-index --target <tmp>/site <wheel>``;
* otherwise (an editable dev venv without a fresh wheel) a copy of the imported
  ``fastgen`` package folder without ``__pycache__`` and without the build sources
  (``.pyx``/``.pxd``/``.c``/``.cpp``), which is what the wheel holds.

Variants:

* ``fastgen``: as ``pip install`` leaves it: ``.pyc`` compiled at install time (pip's
  default ``--compile``; for the copy, ``compileall``), like the incumbents' files;
* ``fastgen-no-pyc``: ``--no-compile`` (or the bare copy): the first import also
  compiles every imported module's byte code and writes the ``.pyc`` files;
* ``hmmlearn+sklearn``: the incumbents as installed in the running environment (their
  ``.pyc`` were written when they were installed).

The child is ``sys.executable -c ...`` (dependencies such as numpy and scipy come from
the environment) with ``PYTHONPATH=<tmp>/site`` (first on ``sys.path``: it shadows an
installed fastgen, which the child checks), ``HOME`` an empty folder that is also its
working directory, and ``XDG_*_HOME``, ``PYTHONDONTWRITEBYTECODE``,
``PYTHONPYCACHEPREFIX``, ``FASTGEN_CACHE_DIR`` and ``NUMBA_CACHE_DIR`` unset.  The
incumbent's child gets the same, with an empty ``<tmp>/site``.

Inside the child (``time.perf_counter``, JSON on stdout): ``import_s`` (fastgen:
``import fastgen.hmm, fastgen.text, fastgen.naive_bayes``; incumbent:
``import hmmlearn.hmm, sklearn.feature_extraction.text, sklearn.naive_bayes``); then
``GaussianHMM(3, covariance_type=ct, n_iter=10, random_state=0)`` for ct in spherical,
diag, full, tied on 500 x 2 floats, and ``CategoricalHMM(3, n_iter=10, random_state=0)``
on 500 symbols out of 4: ``fit``, ``predict``, ``predict_proba``, ``score`` each timed
(``hmm_<ct|categorical>_<op>_s``), ``hmm_first_use_s`` their sum; ``nb_first_fit_s``:
``CountVectorizer().fit_transform(docs)`` + ``MultinomialNB().fit(Xc, y)`` on 200 short
documents; ``total_s``: the child from its first line.  The parent adds ``process_s``
(wall time of the subprocess, also what pytest-benchmark times) and ``install_s`` (the
untimed install).  extra_info holds the medians over the rounds.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from benchmarks.conftest import REPO_ROOT, Variant

GROUP = "first call: fresh process, fresh install, empty cache"
FASTGEN = Variant("fastgen")  # .pyc compiled at install time (pip's default)
FASTGEN_NO_PYC = Variant("fastgen-no-pyc")  # pip --no-compile: the first import compiles
INCUMBENT = Variant("hmmlearn+sklearn")
VARIANTS = [FASTGEN, FASTGEN_NO_PYC, INCUMBENT]
COVARIANCE_TYPES = ("spherical", "diag", "full", "tied")
HMM_OPS = ("fit", "predict", "predict_proba", "score")
# the child's environment: caches and byte-code settings that would make it less fresh
_DROPPED_ENV = (
    "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONUSERBASE",
    "PYTHONSTARTUP", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
    "XDG_STATE_HOME", "FASTGEN_CACHE_DIR", "NUMBA_CACHE_DIR",
)  # fmt: skip
# what the wheel leaves out of the package folder (tools/check_dist.py)
_NOT_IN_WHEEL = ("__pycache__", "*.pyc", "*.pyx", "*.pxd", "*.c", "*.cpp", "*.html")
_RESULTS: dict[str, dict] = {}  # variant id -> last child output (cross-checks)

_CHILD = textwrap.dedent(
    """
    import time
    T0 = time.perf_counter()
    import json, os, sys

    impl, site = sys.argv[1], sys.argv[2]
    out = {}
    t = time.perf_counter()
    if impl == "fastgen":
        import fastgen.hmm, fastgen.text, fastgen.naive_bayes
        out["import_s"] = time.perf_counter() - t
        here = os.path.realpath(fastgen.__file__)
        if not here.startswith(os.path.realpath(site) + os.sep):
            sys.exit(f"fastgen comes from {here}, not from the fresh install in {site}")
        out["fastgen_file"] = here
        GaussianHMM, CategoricalHMM = fastgen.hmm.GaussianHMM, fastgen.hmm.CategoricalHMM
        CountVectorizer = fastgen.text.CountVectorizer
        MultinomialNB = fastgen.naive_bayes.MultinomialNB
    else:
        import hmmlearn.hmm, sklearn.feature_extraction.text, sklearn.naive_bayes
        out["import_s"] = time.perf_counter() - t
        GaussianHMM, CategoricalHMM = hmmlearn.hmm.GaussianHMM, hmmlearn.hmm.CategoricalHMM
        CountVectorizer = sklearn.feature_extraction.text.CountVectorizer
        MultinomialNB = sklearn.naive_bayes.MultinomialNB
    import numpy as np

    # --- HMM data: 500 x 2 floats and 500 symbols out of 4, one sequence, fixed seed
    rng = np.random.RandomState(20240601)
    states = np.repeat(rng.randint(3, size=50), 10)
    means = np.array([[0.0, 0.0], [3.0, 3.0], [-3.0, 3.0]])
    X = np.ascontiguousarray(means[states] + rng.randn(len(states), 2))
    emission = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]])
    cdf = np.cumsum(emission, axis=1)[states]
    S = (cdf < rng.rand(len(states), 1)).sum(axis=1).clip(0, 3).reshape(-1, 1)

    scores = {}
    def first_use(name, model, data):
        for op in ("fit", "predict", "predict_proba", "score"):
            t = time.perf_counter()
            result = getattr(model, op)(data)
            out[f"hmm_{name}_{op}_s"] = time.perf_counter() - t
        scores[name] = float(result)

    for ct in ("spherical", "diag", "full", "tied"):
        first_use(ct, GaussianHMM(3, covariance_type=ct, n_iter=10, random_state=0), X)
    first_use("categorical", CategoricalHMM(3, n_iter=10, random_state=0), S)
    out["hmm_first_use_s"] = sum(v for k, v in out.items() if k.startswith("hmm_"))

    # --- Naive Bayes: 200 short documents from a fixed word list, three classes
    words = (
        "apple river stone cloud piano garden silver window forest candle mirror "
        "rocket violet harbor meadow lantern falcon marble copper thunder velvet "
        "island desert crystal shadow summer winter autumn spring ocean canyon "
        "breeze ember glacier"
    ).split()
    rng = np.random.RandomState(20240602)
    y = np.arange(200) % 3
    docs = [
        " ".join(words[j] for j in rng.randint(9 * c, 9 * c + 16, size=rng.randint(4, 13)))
        for c in y
    ]
    t = time.perf_counter()
    Xc = CountVectorizer().fit_transform(docs)
    nb = MultinomialNB().fit(Xc, y)
    out["nb_first_fit_s"] = time.perf_counter() - t

    out["hmm_scores"] = scores
    out["nb_n_features"] = int(Xc.shape[1])
    out["nb_feature_log_prob_sum"] = float(np.asarray(nb.feature_log_prob_).sum())
    out["modules"] = sorted(m for m in ("numba", "sklearn", "hmmlearn") if m in sys.modules)
    out["total_s"] = time.perf_counter() - T0
    print(json.dumps(out))
    """
)


# --------------------------------------------------------------------------- install


def _wheel_tags_fit(wheel: Path) -> bool:
    try:
        from packaging.tags import sys_tags
        from packaging.utils import parse_wheel_filename
    except ImportError:  # pragma: no cover - a venv without packaging: pip's own copy
        try:
            from pip._vendor.packaging.tags import sys_tags
            from pip._vendor.packaging.utils import parse_wheel_filename
        except ImportError:
            return True
    try:
        name, _, _, tags = parse_wheel_filename(wheel.name)
    except ValueError:
        return False
    return name == "fastgen-models" and not tags.isdisjoint(sys_tags())


def _newest_source_mtime() -> float | None:
    src = REPO_ROOT / "src" / "fastgen"
    if not src.is_dir():
        return None
    mtimes = [
        p.stat().st_mtime
        for pattern in ("*.py", "*.pyx", "*.pxd")
        for p in src.rglob(pattern)
        if "__pycache__" not in p.parts
    ]
    return max(mtimes, default=None)


def find_wheel() -> tuple[Path | None, str]:
    """The wheel to install, and why (or why none): ``FASTGEN_BENCH_WHEEL`` if set,
    else the newest ``dist/*.whl`` for this interpreter that is not older than the
    sources in ``src/fastgen`` (a stale wheel would time the previous code)."""
    env = os.environ.get("FASTGEN_BENCH_WHEEL")
    if env:
        wheel = Path(env).resolve()
        if not wheel.is_file():
            raise pytest.UsageError(f"FASTGEN_BENCH_WHEEL={env}: no such file")
        return wheel, f"FASTGEN_BENCH_WHEEL ({wheel.name})"
    wheels = [w for w in (REPO_ROOT / "dist").glob("*.whl") if _wheel_tags_fit(w)]
    if not wheels:
        return None, "no dist/*.whl for this interpreter"
    wheel = max(wheels, key=lambda w: w.stat().st_mtime)
    newest = _newest_source_mtime()
    if newest is not None and newest > wheel.stat().st_mtime:
        return None, f"dist/{wheel.name} is older than src/fastgen (run `make dist`)"
    return wheel, f"dist/{wheel.name}"


@pytest.fixture(scope="module")
def install_source() -> dict:
    wheel, why = find_wheel()
    if wheel is not None:
        return {"wheel": wheel, "describe": f"pip install --target of {why}"}
    import fastgen

    package = Path(fastgen.__file__).resolve().parent
    warnings.warn(f"first-call benchmark: {why}; copying {package} instead", stacklevel=1)
    return {"package": package, "describe": f"copy of {package} ({why})"}


def fresh_install(source: dict, site: Path, *, compile_pyc: bool) -> None:
    """Install fastgen into the empty folder ``site`` as pip would."""
    if "wheel" in source:
        cmd = [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
            "--disable-pip-version-check", "--no-warn-script-location",
            "--compile" if compile_pyc else "--no-compile",
            "--target", str(site), str(source["wheel"]),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
    else:
        shutil.copytree(
            source["package"], site / "fastgen", ignore=shutil.ignore_patterns(*_NOT_IN_WHEEL)
        )
        if compile_pyc:  # what pip's --compile does: compileall of the installed files
            assert compileall.compile_dir(str(site), quiet=1, workers=1)
    if not compile_pyc:
        assert not list(site.rglob("__pycache__")), "byte code in a --no-compile install"


def child_env(home: Path, site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(HOME=str(home), PYTHONPATH=str(site))
    return env


# --------------------------------------------------------------------------- benchmark


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_first_call(benchmark, variant, size, tmp_path, request):
    """A fresh interpreter on a fresh install: import, HMM first use, NB first fit."""
    is_fastgen = variant.id.startswith("fastgen")
    if is_fastgen:
        source = request.getfixturevalue("install_source")
    else:
        pytest.importorskip("hmmlearn.hmm")
        pytest.importorskip("sklearn")
        source = {"describe": "the running environment's hmmlearn and scikit-learn"}
    results: list[dict] = []

    def setup():
        root = Path(tempfile.mkdtemp(prefix="first-call-", dir=tmp_path))
        site, home = root / "site", root / "home"
        site.mkdir()
        home.mkdir()
        t = time.perf_counter()
        if is_fastgen:
            fresh_install(source, site, compile_pyc=variant == FASTGEN)
        install_s = time.perf_counter() - t
        return (root, site, home, install_s), {}

    def first_call(root, site, home, install_s):
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, "fastgen" if is_fastgen else "incumbent", str(site)],
            capture_output=True, text=True, env=child_env(home, site), cwd=home,
            timeout=600, check=False,
        )  # fmt: skip
        process_s = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        out["process_s"] = process_s
        if is_fastgen:  # install_s: untimed; home_files: what the child left in HOME
            out["install_s"] = install_s
            out["home_files"] = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
        results.append(out)
        return out

    def teardown(root, *_):
        shutil.rmtree(root, ignore_errors=True)

    benchmark.group = GROUP
    benchmark.extra_info.update(
        impl="fastgen" if is_fastgen else INCUMBENT.id,
        variant=variant.id,
        dataset_size=size.name,
        install=source["describe"],
        pyc_at_install=variant != FASTGEN_NO_PYC,
    )
    out = benchmark.pedantic(
        first_call, setup=setup, teardown=teardown, rounds=min(size.rounds, 3),
        warmup_rounds=0,
    )  # fmt: skip
    for k in [k for k in out if k.endswith("_s")]:
        benchmark.extra_info[k] = round(float(np.median([r[k] for r in results])), 6)
    benchmark.extra_info.update(
        hmm_scores=out["hmm_scores"], modules=out["modules"], nb_n_features=out["nb_n_features"]
    )
    if is_fastgen:
        assert "numba" not in out["modules"], "fastgen imported Numba"
        assert out["home_files"] == [], f"the first call wrote into HOME: {out['home_files']}"
        benchmark.extra_info["home_files"] = out["home_files"]

    # cross-checks between the variants of this session (outside the timing)
    _RESULTS[variant.id] = out
    if FASTGEN.id in _RESULTS and FASTGEN_NO_PYC.id in _RESULTS:
        a, b = _RESULTS[FASTGEN.id], _RESULTS[FASTGEN_NO_PYC.id]
        assert a["hmm_scores"] == b["hmm_scores"]
        assert a["nb_feature_log_prob_sum"] == b["nb_feature_log_prob_sum"]
    fg = _RESULTS.get(FASTGEN.id) or _RESULTS.get(FASTGEN_NO_PYC.id)
    if fg is not None and INCUMBENT.id in _RESULTS:  # same vocabulary, same NB model
        inc = _RESULTS[INCUMBENT.id]
        assert fg["nb_n_features"] == inc["nb_n_features"]
        np.testing.assert_allclose(
            fg["nb_feature_log_prob_sum"], inc["nb_feature_log_prob_sum"], rtol=1e-9
        )
