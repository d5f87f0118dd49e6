"""fastgen.dask on a 2-worker LocalCluster vs the plain single-process fastgen API.

Groups ``dask <operation>[<data>]`` hold two variants timed in the same run:
``single-process`` (the ordinary Python API in this process, reported in the
"incumbent" column) and ``fastgen`` (the same operation through :mod:`fastgen.dask` on
a ``LocalCluster`` of 2 worker processes x 1 thread on loopback).  The report's
"speed-up" column is therefore the ratio single-process mean / Dask mean: above 1 the
cluster wins, below 1 scheduling and transfer overhead dominate (expected at small
size, and on a 2-core machine where the client competes with the workers).

Operations: TextClassifier.predict_proba on documents (a bag of 8 partitions) as a
dask array (``output="array"``: one ndarray per partition) and, as a separate group,
as the default bag of rows (one small array per document, gathered and stacked on the
client); TextClassifier fit (CountVectorizer + MultinomialNB) and GaussianHMM EM
(5 iterations from fixed parameters).  Every Dask result is checked against the
single-process one outside the timed call (NB: exactly; HMM: to 1e-8 relative).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.conftest import SEED, Variant, import_fastgen, run_benchmark

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
db = pytest.importorskip("dask.bag")

SINGLE = Variant("single-process")
DASK = Variant("fastgen")
VARIANTS = [SINGLE, DASK]
N_PARTITIONS = 8
N_WORKERS = 2


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=N_WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0", silence_logs=50,
    )  # fmt: skip
    with Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def fdask():
    return import_fastgen("dask")


def _bag(client, items: list):
    """A bag of ``N_PARTITIONS`` partitions scattered to the workers (not sent in a graph)."""
    bounds = np.linspace(0, len(items), N_PARTITIONS + 1).astype(int)
    parts = [list(items[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    # the Delayed wrappers hold the futures, so the data lives as long as the bag
    return db.from_delayed([dask.delayed(f) for f in client.scatter(parts)])


def _extra() -> dict:
    return {"backend": f"dask LocalCluster({N_WORKERS} workers x 1 thread)",
            "partitions": N_PARTITIONS}


@pytest.mark.parametrize("output", ["array", "bag"])
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_dask_text_predict_proba(benchmark, variant, output, client, fdask, synthetic, size):
    from fastgen.pipeline import TextClassifier

    data = synthetic
    model = TextClassifier().fit(data.train_docs, data.y_train)
    docs = data.test_docs
    if variant is DASK:
        bag = _bag(client, docs)
        if output == "array":

            def fn():
                return fdask.predict(model, bag, "predict_proba", output="array").compute()
        else:

            def fn():
                return np.array(fdask.predict(model, bag, "predict_proba").compute())
    else:

        def fn():
            return model.predict_proba(docs)

    group = "dask TextClassifier.predict_proba[synthetic]"
    if output == "bag":
        group = "dask TextClassifier.predict_proba[synthetic, bag of rows]"
    got = run_benchmark(benchmark, fn, group=group, variant=variant, size=size,
                        n_docs=len(docs), corpus_mb=data.test_mb, output=output, **_extra())
    assert np.array_equal(got, model.predict_proba(docs))


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_dask_text_fit(benchmark, variant, client, fdask, synthetic, size):
    from fastgen.pipeline import TextClassifier

    data = synthetic
    docs, y = data.train_docs, data.y_train
    if variant is DASK:
        bag = _bag(client, docs)
        labels = _bag(client, y.tolist())

        def fn():
            return fdask.fit_text_classifier(TextClassifier(), bag, labels)
    else:

        def fn():
            return TextClassifier().fit(docs, y)

    model = run_benchmark(benchmark, fn, group="dask TextClassifier.fit[synthetic]",
                          variant=variant, size=size, n_docs=len(docs),
                          corpus_mb=data.train_mb, **_extra())
    ref = TextClassifier().fit(docs, y)
    assert model.vectorizer_.vocabulary_ == ref.vectorizer_.vocabulary_
    assert np.array_equal(model.classifier_.feature_log_prob_, ref.classifier_.feature_log_prob_)


def _hmm_data(size) -> list[np.ndarray]:
    hmm = import_fastgen("hmm")
    n_seq, length = (40, 50) if size.name == "small" else (2_000, 100)
    true = hmm.GaussianHMM(4, init_params="")
    rng = np.random.default_rng(SEED)
    true.startprob_ = np.full(4, 0.25)
    true.transmat_ = np.full((4, 4), 0.1) + 0.6 * np.eye(4)
    true.means_ = rng.normal(0, 3, (4, 8))
    true.covars_ = np.ones((4, 8))
    return [true.sample(length, random_state=SEED + i)[0] for i in range(n_seq)]


def _hmm_start():
    hmm = import_fastgen("hmm")
    m = hmm.GaussianHMM(4, init_params="", n_iter=5, tol=-np.inf)
    m.startprob_ = np.full(4, 0.25)
    m.transmat_ = np.full((4, 4), 0.25)
    m.means_ = np.linspace(-2, 2, 32).reshape(4, 8)
    m.covars_ = np.full((4, 8), 4.0)
    return m


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_dask_hmm_em(benchmark, variant, client, fdask, size):
    seqs = _hmm_data(size)
    if variant is DASK:
        bag = _bag(client, seqs)

        def fn():
            return fdask.fit_hmm(_hmm_start(), bag)
    else:

        def fn():
            return _hmm_start().fit(seqs)

    n_frames = sum(len(s) for s in seqs)
    model = run_benchmark(benchmark, fn, group="dask GaussianHMM.fit[diag-K4-5iter]",
                          variant=variant, size=size, n_docs=len(seqs), corpus_mb=0.0,
                          n_frames=n_frames, **_extra())
    ref = _hmm_start().fit(seqs)
    np.testing.assert_allclose(model.means_, ref.means_, rtol=1e-8)
    np.testing.assert_allclose(model.transmat_, ref.transmat_, rtol=1e-8)
