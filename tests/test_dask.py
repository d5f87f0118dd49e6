"""fastgen.dask: inference and distributed fits equal the single-process results.

Most tests use Dask's synchronous scheduler; the ``cluster`` tests run on a
``LocalCluster`` of 2 worker processes on loopback (model shipping, worker faults).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")
da = pytest.importorskip("dask.array")
db = pytest.importorskip("dask.bag")
dd = pytest.importorskip("dask.dataframe")

import fastgen.dask as fd  # noqa: E402
from fastgen.hmm import CategoricalHMM, GaussianHMM  # noqa: E402
from fastgen.naive_bayes import (  # noqa: E402
    BernoulliNB,
    CategoricalNB,
    ComplementNB,
    GaussianNB,
    MultinomialNB,
)
from fastgen.pipeline import TextClassifier  # noqa: E402
from fastgen.text import CountVectorizer, HashingVectorizer, TfidfVectorizer  # noqa: E402

NB_ARRAYS = ("classes_", "class_count_", "feature_count_", "feature_log_prob_", "class_log_prior_")


@pytest.fixture
def sync():
    with dask.config.set(scheduler="sync"):
        yield


# --------------------------------------------------------------------------- data


def make_docs(n: int = 240, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i:02d}" for i in range(50)] + ["Été", "naïve", "東京", "the"])
    y = rng.integers(0, 3, n)
    docs = []
    for label in y:
        k = rng.integers(2, 12)
        # class-dependent vocabulary so the classifier learns something
        idx = (rng.zipf(1.5, k) + 7 * label) % len(words)
        docs.append(" ".join(words[idx]))
    return docs, y


def make_sequences(n: int = 24, seed: int = 0) -> list[np.ndarray]:
    true = GaussianHMM(3, init_params="")
    true.startprob_ = np.array([0.6, 0.3, 0.1])
    true.transmat_ = np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2], [0.2, 0.3, 0.5]])
    true.means_ = np.array([[0.0, 0.0], [3.0, 3.0], [-3.0, 2.0]])
    true.covars_ = np.ones((3, 2))
    rng = np.random.default_rng(seed)
    return [true.sample(int(rng.integers(15, 50)), random_state=seed + i)[0] for i in range(n)]


def frames(seqs: list[np.ndarray]) -> pd.DataFrame:
    df = pd.DataFrame(np.concatenate(seqs), columns=["a", "b"])
    df.insert(0, "seq", np.repeat(np.arange(len(seqs)) * 10, [len(s) for s in seqs]))
    return df


def assert_same_nb(a, b) -> None:
    for name in NB_ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert getattr(a, name).dtype == getattr(b, name).dtype, name


def assert_same_hmm(a, b, rtol: float = 1e-8) -> None:
    for name in ("startprob_", "transmat_"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=rtol, atol=0)
    if hasattr(a, "means_"):
        np.testing.assert_allclose(b.means_, a.means_, rtol=rtol, atol=0)
        np.testing.assert_allclose(b.covars_, a.covars_, rtol=rtol, atol=0)
    else:
        np.testing.assert_allclose(b.emissionprob_, a.emissionprob_, rtol=rtol, atol=0)
    assert a.monitor_.iter == b.monitor_.iter
    np.testing.assert_allclose(list(b.monitor_.history), list(a.monitor_.history), rtol=1e-10)


# --------------------------------------------------------------------------- NB fits


@pytest.mark.parametrize(
    "vectorizer",
    [
        CountVectorizer(),
        CountVectorizer(min_df=2, max_df=0.8, max_features=25),
        CountVectorizer(binary=True, ngram_range=(1, 2)),
        CountVectorizer(analyzer=lambda d: d.split()[:3]),  # Python path
        CountVectorizer(vocabulary=["w01", "w02", "w03", "the"]),
        HashingVectorizer(n_features=128, norm=None, alternate_sign=False),
    ],
    ids=["default", "pruned", "binary-ngram", "callable", "fixed", "hashing"],
)
@pytest.mark.parametrize("classifier", [MultinomialNB(), ComplementNB(), BernoulliNB()])
def test_fit_text_classifier_equals_local_fit(sync, vectorizer, classifier):
    docs, y = make_docs()
    local = TextClassifier(vectorizer, classifier).fit(docs, y)
    model = TextClassifier(vectorizer, classifier)
    out = fd.fit_text_classifier(
        model, db.from_sequence(docs, npartitions=7), db.from_sequence(y.tolist(), npartitions=7)
    )
    assert out is model
    assert_same_nb(local.classifier_, model.classifier_)
    if isinstance(vectorizer, CountVectorizer):
        # same terms, same columns, same dict order
        assert list(model.vectorizer_.vocabulary_.items()) == list(
            local.vectorizer_.vocabulary_.items()
        )
    if isinstance(classifier, ComplementNB):
        assert np.array_equal(local.classifier_.feature_all_, model.classifier_.feature_all_)
    assert np.array_equal(model.predict_proba(docs), local.predict_proba(docs))


def test_fit_text_classifier_dataframe_weights_and_vocabulary_matches_sklearn(sync):
    from sklearn.feature_extraction.text import CountVectorizer as SkCountVectorizer

    docs, y = make_docs(seed=1)
    w = np.arange(len(docs)) % 3 + 1  # integer weights: counts stay exact
    pdf = pd.DataFrame({"text": docs, "label": np.array(["x", "y", "z"])[y]})
    ddf = dd.from_pandas(pdf, npartitions=5)
    vec = CountVectorizer(min_df=3, max_features=20)
    local = TextClassifier(vec).fit(docs, pdf["label"], sample_weight=w)
    model = fd.fit_text_classifier(
        TextClassifier(vec),
        ddf,
        column="text",
        target="label",
        sample_weight=dd.from_pandas(pd.Series(w), npartitions=5),
    )
    assert_same_nb(local.classifier_, model.classifier_)
    sk_vocab = SkCountVectorizer(min_df=3, max_features=20).fit(docs).vocabulary_
    assert model.vectorizer_.vocabulary_ == sk_vocab


def test_fit_naive_bayes_arrays_and_dataframe(sync):
    rng = np.random.default_rng(3)
    X = rng.poisson(2.0, (203, 9))
    y = rng.integers(0, 4, 203)
    Xd = da.from_array(X, chunks=(40, 4))  # column chunks are merged
    yd = da.from_array(y, chunks=40)
    for cls in (MultinomialNB, ComplementNB, lambda: BernoulliNB(binarize=1.5)):
        local = cls().fit(X, y)
        est = cls()
        assert fd.fit_naive_bayes(est, Xd, yd) is est
        assert_same_nb(local, est)
    frame = dd.from_pandas(pd.DataFrame(X, columns=[f"f{i}" for i in range(9)]), npartitions=3)
    target = dd.from_pandas(pd.Series(y), npartitions=3)
    assert_same_nb(MultinomialNB().fit(X, y), fd.fit_naive_bayes(MultinomialNB(), frame, target))


def test_fit_naive_bayes_refuses_bad_input(sync):
    X = da.ones((20, 3), chunks=5)
    y = da.zeros(20, chunks=5)
    with pytest.raises(TypeError, match="GaussianNB"):
        fd.fit_naive_bayes(GaussianNB(), X, y)
    with pytest.raises(TypeError, match="CategoricalNB"):
        fd.fit_naive_bayes(CategoricalNB(), X, y)
    with pytest.raises(ValueError, match="partitions"):
        fd.fit_naive_bayes(MultinomialNB(), X, da.zeros(20, chunks=10))
    with pytest.raises(ValueError, match="rows"):  # same count, different sizes
        fd.fit_naive_bayes(MultinomialNB(), X, da.zeros(20, chunks=(4, 6, 5, 5)))
    with pytest.raises(ValueError, match="Negative values"):
        fd.fit_naive_bayes(MultinomialNB(), -X, y)
    with pytest.raises(TypeError, match="dask"):
        fd.fit_naive_bayes(MultinomialNB(), np.ones((20, 3)), y)
    docs = db.from_sequence(["a b", "c d"], npartitions=1)
    with pytest.raises(ValueError, match="y is required"):
        fd.fit_text_classifier(TextClassifier(), docs)
    with pytest.raises(TypeError, match="TextClassifier"):
        fd.fit_text_classifier(MultinomialNB(), docs, docs)
    with pytest.raises(ValueError, match="empty vocabulary"):
        fd.fit_text_classifier(
            TextClassifier(CountVectorizer(stop_words="english")),
            db.from_sequence(["the", "and of"], npartitions=2),
            db.from_sequence([0, 1], npartitions=2),
        )


def test_fit_text_classifier_uneven_partitions_equal_local_fit(sync):
    """Partitions missing classes or terms, stop-word-only and empty ones, a 2-level tree."""
    docs, y = make_docs(n=200, seed=5)
    order = np.argsort(y, kind="stable")  # sorted by class: most partitions see one class
    docs = [docs[i] for i in order] + ["the the", "and"]
    y = np.append(y[order], [1, 2])
    w = np.arange(len(docs)) % 4 + 1
    vec = CountVectorizer(stop_words="english", max_df=0.5, min_df=2)
    for clf in (MultinomialNB(), BernoulliNB()):
        local = TextClassifier(vec, clf).fit(docs, y, sample_weight=w)
        bag = db.from_sequence(docs, partition_size=9)  # 23 partitions: merged in 2 levels
        assert bag.npartitions > 8
        labels = db.from_sequence(y.tolist(), partition_size=9)
        weights = db.from_sequence(w.tolist(), partition_size=9)
        model = fd.fit_text_classifier(TextClassifier(vec, clf), bag, labels,
                                       sample_weight=weights)
        assert_same_nb(local.classifier_, model.classifier_)
        assert list(model.vectorizer_.vocabulary_.items()) == list(
            local.vectorizer_.vocabulary_.items()
        )
    empty = db.from_sequence(docs, npartitions=4).filter(lambda d: False)
    with pytest.raises(ValueError, match="no rows"):
        fd.fit_text_classifier(TextClassifier(), empty, empty)


def assert_same_tfidf(a, b, docs) -> None:
    """Same vocabulary (and order), idf_ bits and dtype, and transform output."""
    assert list(a.vocabulary_.items()) == list(b.vocabulary_.items())
    if a.use_idf:
        assert a.idf_.dtype == b.idf_.dtype and np.array_equal(a.idf_, b.idf_)
    else:
        assert not hasattr(a._tfidf, "idf_") and not hasattr(b._tfidf, "idf_")
    Xa, Xb = a.transform(docs), b.transform(docs)
    assert Xa.dtype == Xb.dtype
    for name in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(Xa, name), getattr(Xb, name)), name


#: tf-idf fronts whose features are counts (or 0/1): the classifier is then exact too
TFIDF_COUNT_FEATURES = ("no-idf-raw",)


@pytest.mark.parametrize(
    "vectorizer",
    [
        TfidfVectorizer(),
        TfidfVectorizer(min_df=2, max_df=0.8, max_features=25, sublinear_tf=True,
                        dtype=np.float32),
        TfidfVectorizer(binary=True, ngram_range=(1, 2), norm="l1", smooth_idf=False),
        TfidfVectorizer(analyzer=lambda d: d.split()[:3]),  # Python path
        TfidfVectorizer(vocabulary=["w01", "w02", "w03", "the", "unseen"]),
        TfidfVectorizer(use_idf=False, norm=None),
        TfidfVectorizer(use_idf=False, vocabulary=["w01", "w02", "the"]),  # one pass
    ],
    ids=["default", "pruned-float32", "binary-ngram-l1", "callable", "fixed", "no-idf-raw",
         "no-idf-fixed"],
)
@pytest.mark.parametrize("classifier", [MultinomialNB(), ComplementNB(), BernoulliNB()])
def test_fit_text_classifier_tfidf_equals_local_fit(sync, vectorizer, classifier, request):
    docs, y = make_docs()
    local = TextClassifier(vectorizer, classifier).fit(docs, y)
    model = TextClassifier(vectorizer, classifier)
    out = fd.fit_text_classifier(
        model, db.from_sequence(docs, npartitions=7), db.from_sequence(y.tolist(), npartitions=7)
    )
    assert out is model
    assert_same_tfidf(local.vectorizer_, model.vectorizer_, docs)
    vec_id = request.node.callspec.id.split("-", 1)[1]
    if vec_id in TFIDF_COUNT_FEATURES or isinstance(classifier, BernoulliNB):
        assert_same_nb(local.classifier_, model.classifier_)
    else:  # weighted features: partition sums added in another order
        for name in NB_ARRAYS:
            a, b = getattr(local.classifier_, name), getattr(model.classifier_, name)
            assert a.dtype == b.dtype, name
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=name)
    assert np.array_equal(model.predict(docs), local.predict(docs))
    np.testing.assert_allclose(model.predict_proba(docs), local.predict_proba(docs),
                               rtol=0, atol=1e-12)


def test_fit_text_classifier_tfidf_uneven_partitions_and_dataframe(sync):
    """Stop-word-only documents, one-class and empty partitions, a 2-level tree,
    weights, and a DataFrame: vocabulary_ and idf_ (summed document frequencies, summed
    document count) equal a local fit, and match scikit-learn's."""
    from sklearn.feature_extraction.text import TfidfVectorizer as SkTfidfVectorizer

    docs, y = make_docs(n=200, seed=5)
    order = np.argsort(y, kind="stable")
    docs = [docs[i] for i in order] + ["the the", "and"]
    y = np.append(y[order], [1, 2])
    w = np.arange(len(docs)) % 4 + 1
    params = {"stop_words": "english", "max_df": 0.5, "min_df": 2, "sublinear_tf": True}
    vec = TfidfVectorizer(**params)

    def partitioned(values: list):  # 23 partitions (a 2-level tree), one of them empty
        chunks = [values[i : i + 9] for i in range(0, len(values), 9)]
        chunks.insert(5, [])
        return db.from_delayed([dask.delayed(list)(c) for c in chunks])

    bag = partitioned(docs)
    assert bag.npartitions > 8
    model = fd.fit_text_classifier(TextClassifier(vec), bag, partitioned(y.tolist()),
                                   sample_weight=partitioned(w.tolist()))
    local = TextClassifier(vec).fit(docs, y, sample_weight=w)
    assert_same_tfidf(local.vectorizer_, model.vectorizer_, docs)
    sk = SkTfidfVectorizer(**params).fit(docs)
    assert model.vectorizer_.vocabulary_ == sk.vocabulary_
    assert np.array_equal(model.vectorizer_.idf_, sk.idf_)
    pdf = pd.DataFrame({"text": docs, "label": np.array(["x", "y", "z"])[y]})
    frame_model = fd.fit_text_classifier(
        TextClassifier(TfidfVectorizer(dtype=np.float32), BernoulliNB()),
        dd.from_pandas(pdf, npartitions=5), column="text", target="label",
    )
    frame_local = TextClassifier(TfidfVectorizer(dtype=np.float32), BernoulliNB()).fit(
        docs, pdf["label"])
    assert_same_tfidf(frame_local.vectorizer_, frame_model.vectorizer_, docs)
    assert_same_nb(frame_local.classifier_, frame_model.classifier_)
    # fitted on the cluster, predicted on the cluster: the local model's answers
    got = fd.predict(frame_model, db.from_sequence(docs, npartitions=3), "predict_proba",
                     output="array").compute()
    assert np.array_equal(got, frame_local.predict_proba(docs))


def test_fit_text_classifier_tfidf_refuses_bad_input(sync):
    with pytest.raises(ValueError, match="empty vocabulary"):
        fd.fit_text_classifier(
            TextClassifier(TfidfVectorizer(stop_words="english")),
            db.from_sequence(["the", "and of"], npartitions=2),
            db.from_sequence([0, 1], npartitions=2),
        )
    empty = db.from_sequence(["a b"] * 4, npartitions=2).filter(lambda d: False)
    with pytest.raises(ValueError, match="no rows"):
        fd.fit_text_classifier(TextClassifier(TfidfVectorizer()), empty, empty)


# --------------------------------------------------------------------------- inference


def test_predict_array_chunks_and_values(sync):
    rng = np.random.default_rng(4)
    X = rng.poisson(1.0, (157, 6))
    y = np.array(["ham", "spam", "eggs"])[rng.integers(0, 3, 157)]
    model = MultinomialNB().fit(X, y)
    Xd = da.from_array(X, chunks=(50, 3))
    labels = fd.predict(model, Xd)
    assert labels.chunks == ((50, 50, 50, 7),)
    assert labels.dtype == model.classes_.dtype
    assert np.array_equal(labels.compute(), model.predict(X))
    proba = fd.predict(model, Xd, "predict_proba")
    assert proba.chunks == ((50, 50, 50, 7), (3,)) and proba.dtype == np.float64
    assert np.array_equal(proba.compute(), model.predict_proba(X))
    unknown = Xd[Xd[:, 0] >= 0]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        fd.predict(model, unknown)


def test_predict_embeds_model_once(sync):
    X = da.ones((100, 4), chunks=10)
    model = MultinomialNB().fit(np.eye(4), [0, 1, 0, 1])
    graph = dict(fd.predict(model, X, "predict_proba").__dask_graph__())
    assert len([k for k in graph if str(k).startswith("fastgen-model-")]) == 1
    assert len(graph) > 10


def test_predict_bag_series_and_dataframe(sync):
    docs, y = make_docs(seed=2)
    model = TextClassifier(CountVectorizer(min_df=2)).fit(docs, y)
    bag = db.from_sequence(docs, npartitions=6)
    assert np.array_equal(np.array(fd.predict(model, bag).compute()), model.predict(docs))
    pdf = pd.DataFrame({"text": docs, "n": np.arange(len(docs))}, index=np.arange(len(docs)) * 3)
    ddf = dd.from_pandas(pdf, npartitions=4)
    proba = fd.predict(model, ddf, "predict_proba", column="text")
    assert proba.npartitions == ddf.npartitions
    got = proba.compute()
    assert list(got.columns) == list(model.classes_)
    assert got.index.equals(pdf.index)
    assert np.array_equal(got.to_numpy(), model.predict_proba(docs))
    series = fd.predict(model, ddf["text"]).compute()
    assert series.name == "predict" and np.array_equal(series.to_numpy(), model.predict(docs))
    # feature columns of a DataFrame
    nb = MultinomialNB().fit(pdf[["n"]].to_numpy(), y)
    got = fd.predict(nb, ddf, "predict_log_proba", columns=["n"]).compute()
    assert np.array_equal(got.to_numpy(), nb.predict_log_proba(pdf[["n"]].to_numpy()))


def test_predict_bag_array_output_one_block_per_partition(sync):
    docs, y = make_docs(seed=3)
    labels = np.array(["ham", "spam", "eggs"])[y]
    model = TextClassifier(CountVectorizer(min_df=2)).fit(docs, labels)
    bag = db.from_sequence(docs, npartitions=6)
    proba = fd.predict(model, bag, "predict_proba", output="array")
    assert isinstance(proba, da.Array) and proba.dtype == np.float64
    assert proba.numblocks == (6, 1) and proba.shape[1] == 3 and np.isnan(proba.shape[0])
    assert np.array_equal(proba.compute(), model.predict_proba(docs))
    pred = fd.predict(model, bag, output="array")
    assert pred.dtype == model.classes_.dtype and pred.ndim == 1
    sizes = tuple(bag.map_partitions(lambda part: [len(list(part))]).compute())
    assert sum(sizes) == len(docs) and pred.compute_chunk_sizes().chunks == (sizes,)
    assert np.array_equal(pred.compute(), model.predict(docs))
    # empty partitions give empty blocks
    sparse_bag = db.from_sequence(docs[:3], npartitions=3).filter(lambda d: d != docs[1])
    got = fd.predict(model, sparse_bag, "predict_log_proba", output="array").compute()
    assert np.array_equal(got, model.predict_log_proba([docs[0], docs[2]]))
    # the Series / DataFrame families stack their partitions too
    ddf = dd.from_pandas(pd.DataFrame({"text": docs}), npartitions=4)
    got = fd.predict(model, ddf, "predict_proba", column="text", output="array")
    assert isinstance(got, da.Array) and got.numblocks[0] == 4
    assert np.array_equal(got.compute(), model.predict_proba(docs))
    got = fd.predict(model, ddf["text"], output="array").compute()
    assert np.array_equal(got, model.predict(docs))


def test_predict_bag_array_output_probes_and_hmm_frames(sync):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(90, 4)).astype(np.float32)
    y = rng.integers(0, 2, 90)
    gnb = GaussianNB().fit(X, y)  # output dtype follows the input: found by a probe
    rows = db.from_sequence(list(X), npartitions=4)
    got = fd.predict(gnb, rows, "predict_proba", output="array")
    assert got.dtype == gnb.predict_proba(X[:1]).dtype
    assert np.array_equal(got.compute(), gnb.predict_proba(X))
    seqs = make_sequences(9)
    hmm = GaussianHMM(3, n_iter=4, random_state=0).fit(seqs)
    bag = db.from_sequence(seqs, npartitions=4)
    lengths = [len(s) for s in seqs]
    for method in ("predict", "predict_proba", "filter"):
        got = fd.predict(hmm, bag, method, output="array").compute()
        assert np.array_equal(got, getattr(hmm, method)(np.concatenate(seqs), lengths))
    with pytest.raises(ValueError, match="one result per sequence"):
        fd.predict(hmm, bag, "score", output="array")
    with pytest.raises(ValueError, match="output must be"):
        fd.predict(gnb, rows, output="list")
    with pytest.raises(ValueError, match="bag is empty"):
        fd.predict(gnb, db.from_sequence([], npartitions=1), output="array")


def test_predict_refuses_bad_input(sync):
    docs, y = make_docs(n=30)
    model = TextClassifier().fit(docs, y)
    hmm = GaussianHMM(2, n_iter=2, random_state=0).fit(make_sequences(4))
    bag = db.from_sequence(docs, npartitions=2)
    with pytest.raises(ValueError, match="no method"):
        fd.predict(model, bag, "nonexistent")
    with pytest.raises(ValueError, match="public method"):
        fd.predict(model, bag, "_fused")
    with pytest.raises(TypeError, match="dask"):
        fd.predict(model, docs)
    with pytest.raises(TypeError, match="whole sequences"):
        fd.predict(hmm, da.ones((10, 2), chunks=5))
    with pytest.raises(ValueError, match="DataFrames only"):
        fd.predict(model, bag, column="text")
    with pytest.raises(TypeError, match="sparse"):
        fd.predict(CountVectorizer().fit(docs), dd.from_pandas(pd.Series(docs), npartitions=2),
                   "transform")
    with pytest.raises(ValueError, match="not in the DataFrame"):
        ddf = dd.from_pandas(pd.DataFrame({"text": docs}), npartitions=2)
        fd.predict(model, ddf, column="body")


# --------------------------------------------------------------------------- HMM


def _fixed_start(model):
    model.startprob_ = np.full(3, 1 / 3)
    model.transmat_ = np.array([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.25, 0.25, 0.5]])
    model.means_ = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    diag = np.full((3, 2), 2.0)
    full = model.covariance_type == "full"
    model.covars_ = np.array([np.diag(d) for d in diag]) if full else diag
    return model


@pytest.mark.parametrize("init_params", ["", "stmc"])
@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_fit_hmm_bag_equals_local_fit(sync, init_params, covariance_type):
    seqs = make_sequences()
    kw = dict(n_components=3, covariance_type=covariance_type, random_state=1, n_iter=12,
              tol=1e-6, init_params=init_params)
    local, dist = GaussianHMM(**kw), GaussianHMM(**kw)
    if not init_params:
        _fixed_start(local)
        _fixed_start(dist)
    local.fit(seqs)
    assert fd.fit_hmm(dist, db.from_sequence(seqs, npartitions=5)) is dist
    assert_same_hmm(local, dist)


def test_fit_hmm_categorical_and_dataframe(sync):
    rng = np.random.default_rng(5)
    seqs = [rng.integers(0, 5, (int(rng.integers(10, 30)), 1)) for _ in range(20)]
    local = CategoricalHMM(3, random_state=2, n_iter=10).fit(seqs)
    dist = fd.fit_hmm(CategoricalHMM(3, random_state=2, n_iter=10),
                      db.from_sequence(seqs, npartitions=4), persist=False)
    assert dist.n_features == local.n_features == 5
    assert_same_hmm(local, dist)

    gseqs = make_sequences(12)
    local = GaussianHMM(3, random_state=3, n_iter=8).fit(gseqs)
    ddf = dd.from_pandas(frames(gseqs), npartitions=1).repartition(npartitions=1)
    dist = fd.fit_hmm(GaussianHMM(3, random_state=3, n_iter=8), ddf, sequence_column="seq")
    assert_same_hmm(local, dist)


@pytest.mark.parametrize("init_params", ["", "stmc"])
def test_fit_hmm_weight_column_equals_weighted_local_fit(sync, init_params):
    seqs = make_sequences(15)
    df = frames(seqs)
    rng = np.random.default_rng(3)
    seq_w = rng.integers(0, 4, len(seqs)).astype(float)
    df["w"] = np.repeat(seq_w, [len(q) for q in seqs])
    df.loc[df.index[:7], "w"] = 0.5  # and some per-frame weights
    bounds = np.cumsum([0] + [len(q) for q in seqs])[[0, 5, 10, 15]]
    chunks = [df.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    ddf = dd.concat([dd.from_pandas(c, npartitions=1) for c in chunks])
    assert ddf.npartitions == 3
    kw = dict(n_components=3, random_state=1, n_iter=6, tol=-np.inf, init_params=init_params)
    local, dist = GaussianHMM(**kw), GaussianHMM(**kw)
    if not init_params:
        _fixed_start(local)
        _fixed_start(dist)
    local.fit(seqs, sample_weight=df["w"].to_numpy())
    fd.fit_hmm(dist, ddf, sequence_column="seq", weight_column="w")
    assert_same_hmm(local, dist)
    df["w"] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        fd.fit_hmm(GaussianHMM(3, n_iter=1), dd.from_pandas(df, npartitions=1),
                   sequence_column="seq", weight_column="w")
    with pytest.raises(ValueError, match="DataFrames only"):
        fd.fit_hmm(GaussianHMM(3), db.from_sequence(seqs, npartitions=2), weight_column="w")


def test_hmm_sequences_must_stay_whole(sync):
    seqs = make_sequences(6)
    df = frames(seqs)
    split = dd.from_pandas(df, npartitions=3, sort=False)  # cuts through sequences
    model = GaussianHMM(3, n_iter=2, random_state=0)
    with pytest.raises(ValueError, match="spans partitions"):
        fd.fit_hmm(model, split, sequence_column="seq")
    fitted = GaussianHMM(3, n_iter=2, random_state=0).fit(seqs)
    with pytest.raises(ValueError, match="spans partitions"):
        fd.predict(fitted, split, sequence_column="seq").compute()
    shuffled = dd.from_pandas(df.iloc[::-1].iloc[np.r_[0:5, 40:45, 5:40, 45:len(df)]],
                              npartitions=1, sort=False)
    with pytest.raises(ValueError, match="not contiguous"):
        fd.fit_hmm(model, shuffled, sequence_column="seq")
    with pytest.raises(ValueError, match="2-D array"):
        fd.fit_hmm(model, db.from_sequence([np.zeros(5)], npartitions=1))
    with pytest.raises(ValueError, match="sequence_column"):
        fd.fit_hmm(model, dd.from_pandas(df, npartitions=1))
    with pytest.raises(TypeError, match="GaussianHMM"):
        fd.fit_hmm(MultinomialNB(), db.from_sequence(seqs, npartitions=2))
    with pytest.raises(ValueError, match="n_init=3 random restarts are not supported"):
        fd.fit_hmm(GaussianHMM(3, n_init=3), db.from_sequence(seqs, npartitions=2))


def test_hmm_predict_bag_and_dataframe(sync):
    seqs = make_sequences(10)
    model = GaussianHMM(3, n_iter=5, random_state=0).fit(seqs)
    bag = db.from_sequence(seqs, npartitions=3)
    for method in ("predict", "predict_proba", "filter", "score", "score_sequences"):
        got = fd.predict(model, bag, method).compute()
        for g, s in zip(got, seqs, strict=True):
            assert np.array_equal(g, getattr(model, method)(s))
    df = frames(seqs)
    ddf = dd.from_pandas(df, npartitions=1)
    got = fd.predict(model, ddf, "predict_proba", sequence_column="seq").compute()
    lengths = [len(s) for s in seqs]
    assert np.array_equal(got.to_numpy(), model.predict_proba(np.concatenate(seqs), lengths))
    assert got.index.equals(df.index)
    got = fd.predict(model, ddf, "filter", sequence_column="seq").compute()
    assert np.array_equal(got.to_numpy(), model.filter(np.concatenate(seqs), lengths))
    stacked = fd.predict(model, ddf, "predict", sequence_column="seq", output="array")
    assert np.array_equal(stacked.compute(), model.predict(np.concatenate(seqs), lengths))
    with pytest.raises(ValueError, match="bag of sequences"):
        fd.predict(model, ddf, "score", sequence_column="seq")


# --------------------------------------------------------------------------- ONNX


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    """A tiny linear ONNX model in a fastgen model file (no TensorFlow needed)."""
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from fastgen._modelfile import write_modelfile

    W = np.arange(6, dtype=np.float32).reshape(3, 2) / 5
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(W, "W")],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    path = tmp_path_factory.mktemp("onnx") / "linear.fgm"
    spec = {"member": "model.onnx", "inputs": ["x"], "outputs": ["y"], "input_shape": [None, 3]}
    write_modelfile(
        path, "keras", {"model.onnx": proto.SerializeToString()},
        {"graphs": {"model": spec}, "input_shape": [None, 3]},
    )  # fmt: skip
    return path, W


def test_onnx_model_file_predict(sync, onnx_file):
    from fastgen.nn import load

    path, W = onnx_file
    ref = fd.OnnxModelFile(path, device="cpu", batch_size=7)
    X = np.random.default_rng(6).random((45, 3))
    out = fd.predict(ref, da.from_array(X, chunks=(20, 3)))
    assert out.chunks == ((20, 20, 5), (2,)) and out.dtype == np.float32
    assert np.array_equal(out.compute(), load(path, device="cpu").predict(X))
    assert ref.load() is ref.load()  # cached per process
    with pytest.raises(TypeError, match="OnnxModelFile"):
        fd.predict(load(path), da.from_array(X, chunks=20))
    bad = path.parent / "bad.fgm"
    bad.write_bytes(b"not a model")
    with pytest.raises(Exception, match="zip|model file"):
        fd.OnnxModelFile(bad)


# --------------------------------------------------------------------------- cluster


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    # one retry per task: a worker killed once is survived, twice is an error.  The
    # active memory manager is off: every 2 s it drops replicas no task waits for, so
    # whether a broadcast model is still on both workers right after a job would
    # depend on timing (fastgen re-replicates kept models before the next job anyway)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.scheduler.active-memory-manager.start": False}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=":0", silence_logs=50,
        )  # fmt: skip
        with Client(cluster) as c:
            yield c
    cluster.close()


def test_cluster_text_fit_and_predict(client):
    docs, y = make_docs(seed=7)
    vec, clf = CountVectorizer(min_df=2), ComplementNB()
    local = TextClassifier(vec, clf).fit(docs, y)
    model = fd.fit_text_classifier(
        TextClassifier(vec, clf),
        db.from_sequence(docs, npartitions=4),
        db.from_sequence(y.tolist(), npartitions=4),
    )
    assert_same_nb(local.classifier_, model.classifier_)
    assert model.vectorizer_.vocabulary_ == local.vectorizer_.vocabulary_
    got = fd.predict(model, db.from_sequence(docs, npartitions=4), "predict_proba").compute()
    assert np.array_equal(np.array(got), local.predict_proba(docs))
    got = fd.predict(model, db.from_sequence(docs, npartitions=4), "predict_proba",
                     output="array").compute()
    assert np.array_equal(got, local.predict_proba(docs))


def test_cluster_hmm_fit(client):
    seqs = make_sequences(16)
    local = GaussianHMM(3, random_state=4, n_iter=6).fit(seqs)
    dist = fd.fit_hmm(GaussianHMM(3, random_state=4, n_iter=6),
                      db.from_sequence(seqs, npartitions=4))
    assert_same_hmm(local, dist)


def _counting_model(log_path: str):
    """A MultinomialNB whose instances log the pid of every process that unpickles them.

    Defined in a function so that cloudpickle ships the class by value to the workers.
    """

    class Counted(MultinomialNB):
        log = log_path

        def __setstate__(self, state):
            with open(self.log, "a") as f:
                f.write(f"{os.getpid()}\n")
            self.__dict__.update(state)

    return Counted


def test_cluster_model_deserialised_once_per_worker(client, tmp_path):
    log = tmp_path / "unpickled.txt"
    log.touch()
    X = np.random.default_rng(8).poisson(1.0, (400, 5))
    model = _counting_model(str(log))().fit(X, X[:, 0] % 2)
    out = fd.predict(model, da.from_array(X, chunks=(25, 5)), "predict_proba")
    assert out.numblocks[0] == 16
    assert np.array_equal(out.compute(), MultinomialNB().fit(X, X[:, 0] % 2).predict_proba(X))
    pids = log.read_text().split()
    workers = {str(pid) for pid in client.run(os.getpid).values()}
    assert set(pids) - {str(os.getpid())} <= workers
    assert len(pids) == len(set(pids)), pids  # once per process, not once per chunk
    assert len(pids) <= len(workers) + 1


def _first_to_create(path: str) -> bool:
    """Create ``path`` atomically; True only for the one caller that created it."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _killer_model(marker: str, always: bool):
    """A MultinomialNB whose predict kills its worker process (first call, or always)."""

    class Killer(MultinomialNB):
        def predict(self, X):
            if always or _first_to_create(marker):
                sys.stdout.flush()
                os._exit(1)
            return super().predict(X)

    return Killer


def test_cluster_worker_killed_once_is_retried_exactly(client, tmp_path):
    # a scattered model survives a worker's death while another worker holds it:
    # wait for the worker an earlier test killed, so the broadcast reaches both
    client.wait_for_workers(2, timeout=30)
    docs, y = make_docs(n=60, seed=9)
    X = CountVectorizer().fit_transform(docs).toarray()
    model = _killer_model(str(tmp_path / "died"), always=False)().fit(X, y)
    rows = db.from_sequence(list(X), npartitions=4)
    got = fd.predict(model, rows).compute()
    assert (tmp_path / "died").exists()
    assert np.array_equal(np.array(got), MultinomialNB().fit(X, y).predict(X))


def test_cluster_worker_killed_every_time_fails_cleanly(client, tmp_path):
    from distributed.client import FutureCancelledError

    X = np.eye(4)
    model = _killer_model(str(tmp_path / "died"), always=True)().fit(X, [0, 1, 0, 1])
    # the tasks exhaust their retries (KilledWorker), or every worker holding the
    # scattered model dies first, which cancels the job: either way an error, no hang
    with pytest.raises((distributed.KilledWorker, FutureCancelledError)):
        fd.predict(model, db.from_sequence(list(X), npartitions=2)).compute()
    client.wait_for_workers(2, timeout=30)
    # the lost model is shipped again by the next call
    good = MultinomialNB().fit(X, [0, 1, 0, 1])
    assert fd.predict(good, db.from_sequence(list(X), npartitions=2)).compute() == [0, 1, 0, 1]


def test_import_fastgen_stays_light_and_dask_is_the_real_one():
    import subprocess

    code = (
        "import sys, fastgen, fastgen.naive_bayes, fastgen.hmm; "
        "assert 'dask' not in sys.modules, 'dask imported'; "
        "import fastgen.dask, fastgen.dask._common as c; "
        "assert c.dask.__name__ == 'dask' and hasattr(c.dask, 'delayed'); print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --------------------------------------------------------------------------- shipping


def _counting_vectorizer(log_path: str):
    """A CountVectorizer that logs the pid each time it (re)builds its lookup table."""

    class CountedVectorizer(CountVectorizer):
        def _lookup_table(self):
            before = getattr(self, "_table", None)
            table = super()._lookup_table()
            if getattr(self, "_table", None) is not before:
                with open(log_path, "a") as f:
                    f.write(f"{os.getpid()}\n")
            return table

    return CountedVectorizer


def _model_refs(collection) -> tuple[set, set]:
    """(model keys embedded in the graph, model keys its tasks depend on)."""
    graph = dict(collection.__dask_graph__())
    deps = set().union(*(getattr(v, "dependencies", ()) for v in graph.values()))
    model = {str(k) for k in deps | set(graph) if str(k).startswith("fastgen-model-")}
    return {k for k in model if k in graph}, model


def test_cluster_model_shipped_once_per_worker_and_reused(client, tmp_path):
    from fastgen.dask import _common

    fd.release_models()
    log = tmp_path / "tables.txt"
    log.touch()
    docs, y = make_docs(n=160, seed=10)
    model = TextClassifier(_counting_vectorizer(str(log))(), MultinomialNB()).fit(docs, y)
    expected = TextClassifier(CountVectorizer(), MultinomialNB()).fit(docs, y).predict_proba(docs)
    log.write_text("")  # the local fit's build
    bag = db.from_sequence(docs, npartitions=8)
    first = fd.predict(model, bag, "predict_proba")
    embedded, (key,) = _model_refs(first)
    assert not embedded and key.startswith("fastgen-model-TextClassifier-")
    assert np.array_equal(np.array(first.compute()), expected)
    held = client.run(lambda dask_worker: key in dask_worker.data)
    assert list(held.values()) == [True, True]  # broadcast to both workers
    again = fd.predict(model, bag, "predict_proba")  # same content: same key, nothing sent
    assert _model_refs(again) == (set(), {key})
    assert np.array_equal(np.array(again.compute()), expected)
    pids = log.read_text().split()
    workers = {str(pid) for pid in client.run(os.getpid).values()}
    # one table per worker process over 16 partitions in two jobs, none on the client
    assert pids and set(pids) <= workers and len(pids) == len(set(pids)), pids

    # equal content, same key; changed content (even in place), a new key
    model.classifier_.feature_log_prob_ = model.classifier_.feature_log_prob_ * 1.0
    assert _model_refs(fd.predict(model, bag))[1] == {key}
    model.classifier_.class_log_prior_[::-1].sort()
    (new_key,) = _model_refs(fd.predict(model, bag))[1]
    assert new_key != key and _common.fingerprint(model) in new_key
    # a lost model is shipped again
    client.cancel([distributed.Future(new_key)])
    got = fd.predict(model, bag, "predict_proba").compute()
    assert np.array_equal(np.array(got), model.predict_proba(docs))
    assert fd.release_models() >= 1
    assert fd.release_models() == 0


def test_cluster_no_large_graph_warning(client):
    """A model bigger than the warning threshold travels by scatter, not in the graph."""
    import warnings

    rng = np.random.default_rng(11)
    X = rng.poisson(0.01, (40, 40_000)).astype(np.float64)  # ~1.3 MB of fitted arrays
    model = MultinomialNB().fit(X, np.arange(40) % 2)
    rows = da.ones((12, 40_000), chunks=(3, 40_000))  # made on the workers
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "200kB"}):
        with pytest.warns(UserWarning, match="large graph"):  # the threshold bites
            dask.delayed(np.sum)(fd._common.embed(model.feature_log_prob_)).compute()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = fd.predict(model, rows, "predict_log_proba").compute()
            docs, y = make_docs(n=80, seed=12)
            fitted = fd.fit_text_classifier(
                TextClassifier(), db.from_sequence(docs, npartitions=4),
                db.from_sequence(y.tolist(), npartitions=4),
            )  # fmt: skip
    assert np.array_equal(got, model.predict_log_proba(np.ones((12, 40_000))))
    assert_same_nb(TextClassifier().fit(docs, y).classifier_, fitted.classifier_)


def test_cluster_local_scheduler_override_embeds_the_model(client):
    X = da.ones((20, 4), chunks=5)
    model = MultinomialNB().fit(np.eye(4), [0, 1, 0, 1])
    with dask.config.set(scheduler="sync"):
        out = fd.predict(model, X)
        embedded, keys = _model_refs(out)
        assert len(embedded) == 1 and embedded == keys
        assert np.array_equal(out.compute(), model.predict(np.ones((20, 4))))


# --------------------------------------------------------------------------- output spec


def _strict_analyzer(doc: str) -> list[str]:
    if not doc:
        raise ValueError("empty document")
    return doc.split()


def test_predict_meta_comes_from_the_model_not_a_probe(sync):
    docs, y = make_docs(n=60, seed=13)
    model = TextClassifier(CountVectorizer(analyzer=_strict_analyzer)).fit(docs, y)
    series = dd.from_pandas(pd.Series(docs), npartitions=3)
    got = fd.predict(model, series, "predict_proba").compute()
    assert list(got.columns) == list(model.classes_)
    assert np.array_equal(got.to_numpy(), model.predict_proba(docs))
    # CategoricalHMM: state columns and int64 labels without evaluating the model
    rng = np.random.default_rng(14)
    seqs = [rng.integers(0, 4, (int(rng.integers(5, 12)), 1)) for _ in range(6)]
    hmm = CategoricalHMM(2, n_iter=3, random_state=0).fit(seqs)
    df = pd.DataFrame(np.concatenate(seqs), columns=["sym"])
    df.insert(0, "seq", np.repeat(np.arange(6), [len(s) for s in seqs]))
    lengths = [len(s) for s in seqs]
    for method in ("predict", "predict_proba"):
        out = fd.predict(hmm, dd.from_pandas(df, npartitions=1), method, sequence_column="seq")
        ref = getattr(hmm, method)(np.concatenate(seqs), lengths)
        assert out._meta.ndim == ref.ndim and np.array_equal(out.compute().to_numpy(), ref)
    with pytest.raises(ValueError, match="expecting 4 features"):
        fd.predict(MultinomialNB().fit(np.eye(4), [0, 1, 0, 1]), da.ones((6, 3), chunks=3))
    with pytest.raises(Exception, match="not fitted"):
        fd.predict(MultinomialNB(), da.ones((6, 3), chunks=3))


def test_predict_refuses_output_unlike_announced(sync):
    class Float32Proba(MultinomialNB):
        def predict_proba(self, X):
            return super().predict_proba(X).astype(np.float32)

    model = Float32Proba().fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(TypeError, match="announced"):
        fd.predict(model, da.ones((6, 4), chunks=3), "predict_proba").compute()
