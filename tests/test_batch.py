"""fastgen.batch: streaming predict_file / read_chunks / predict_chunks, file to file.

Every format is checked against the in-memory API on the same model (exact
equality for text Naive Bayes and HMMs; neural outputs to float32 rounding), for
several batch sizes.  Faults: malformed rows (row numbers, skip mode), missing
files, unknown formats, feature mismatches, unwritable outputs, exceptions and
KeyboardInterrupt in mid-stream (no output, no temporary file), bounded memory.
The neural model files are built directly with ``onnx`` (no TensorFlow).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fastgen._modelfile import write_modelfile
from fastgen._progress import Progress, format_duration
from fastgen.batch import (
    BatchError,
    Chunk,
    open_writer,
    predict_chunks,
    predict_file,
    read_chunks,
    read_lengths,
)
from fastgen.hmm import CategoricalHMM, GaussianHMM
from fastgen.naive_bayes import ComplementNB, GaussianNB, MultinomialNB
from fastgen.pipeline import TextClassifier
from fastgen.text import CountVectorizer, TfidfTransformer, TfidfVectorizer

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


# --------------------------------------------------------------------------- builders


def make_onnx_autoencoder(path, n_features: int = 6, latent: int = 3, *, vae: bool = False,
                          seed: int = 0) -> Path:
    """A small dense AE/VAE model file (tanh encoder, sigmoid decoder), random weights."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def dense(prefix, inp, w, b, act, out):
        inits = [numpy_helper.from_array(w, f"{prefix}_w"),
                 numpy_helper.from_array(b, f"{prefix}_b")]
        nodes = [
            helper.make_node("MatMul", [inp, f"{prefix}_w"], [f"{prefix}_mm"]),
            helper.make_node("Add", [f"{prefix}_mm", f"{prefix}_b"],
                             [out if act is None else f"{prefix}_pre"]),
        ]
        if act is not None:
            nodes.append(helper.make_node(act, [f"{prefix}_pre"], [out]))
        return nodes, inits

    def weights(a, b):
        return (rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32), (
            rng.standard_normal(b) * 0.1
        ).astype(np.float32)

    def model(nodes, inits, inp, in_dim, outs):
        g = helper.make_graph(
            nodes, "g",
            [helper.make_tensor_value_info(inp, TensorProto.FLOAT, ["batch", in_dim])],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", w]) for o, w in outs],
            inits,
        )
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m.SerializeToString()

    n1, i1 = dense("enc", "x", *weights(n_features, latent), "Tanh", "z_mean" if vae else "z")
    enc_out = [("z_mean" if vae else "z", latent)]
    if vae:
        n2, i2 = dense("logvar", "x", *weights(n_features, latent), None, "z_log_var")
        n1, i1 = n1 + n2, i1 + i2
        enc_out.append(("z_log_var", latent))
    nd, idd = dense("dec", "zin", *weights(latent, n_features), "Sigmoid", "reconstruction")
    members = {
        "encoder.onnx": model(n1, i1, "x", n_features, enc_out),
        "decoder.onnx": model(nd, idd, "zin", latent, [("reconstruction", n_features)]),
    }
    graphs = {
        "encoder": {"member": "encoder.onnx", "inputs": ["x"], "outputs": [o for o, _ in enc_out],
                    "input_shape": [None, n_features]},
        "decoder": {"member": "decoder.onnx", "inputs": ["zin"], "outputs": ["reconstruction"],
                    "input_shape": [None, latent]},
    }
    meta = {"input_shape": [None, n_features], "latent_shape": [None, latent], "opset": 17,
            "graphs": graphs, "params": {"input_dim": n_features, "latent_dim": latent}}
    write_modelfile(path, "vae" if vae else "autoencoder", members, meta)
    return Path(path)


DOCS = [
    "good movie, great fun", "bad awful movie", "great acting and a good plot",
    "terrible, bad, boring", "fun fun fun", "awful plot but great music", "boring",
    "naïve café movie — très bon", "日本語 の テキスト good", "",
]


@pytest.fixture(scope="module")
def docs() -> list[str]:
    rng = np.random.default_rng(0)
    return [DOCS[i] + f" w{j}" for i, j in zip(rng.integers(0, len(DOCS), 300),
                                               rng.integers(0, 40, 300), strict=True)]


@pytest.fixture(scope="module")
def text_model(docs):
    y = np.array(["pos" if ("good" in d or "great" in d or "fun" in d) else "neg" for d in docs])
    return TextClassifier(CountVectorizer(ngram_range=(1, 2)), MultinomialNB()).fit(docs, y)


@pytest.fixture(scope="module")
def hmm_data():
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 30, size=40)
    X = rng.standard_normal((int(lengths.sum()), 2)) + rng.integers(0, 3, (int(lengths.sum()), 1))
    model = GaussianHMM(3, n_iter=5, random_state=0).fit(X, lengths)
    return model, X, lengths


@pytest.fixture(scope="module")
def ae_file(tmp_path_factory) -> Path:
    return make_onnx_autoencoder(tmp_path_factory.mktemp("ae") / "ae.fgm")


def write_txt(path, docs) -> Path:
    Path(path).write_bytes(("\n".join(docs) + "\n").encode("utf-8"))
    return Path(path)


def write_csv(path, header, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return Path(path)


def read_output(path) -> np.ndarray:
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        arr = np.array(rows)
        return arr[:, 0] if arr.shape[1] == 1 else arr
    table = pq.read_table(path)
    cols = [table.column(i).to_numpy(zero_copy_only=False) for i in range(table.num_columns)]
    return cols[0] if len(cols) == 1 else np.column_stack(cols)


def same(got: np.ndarray, expected: np.ndarray, exact: bool = True) -> None:
    expected = np.asarray(expected)
    if got.dtype.kind == "U" and expected.dtype.kind != "U":  # CSV: parse back
        got = got.astype(expected.dtype)
    assert got.shape == expected.shape
    if exact:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in Path(directory).iterdir() if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize("out_ext", [".npy", ".csv", ".parquet"])
@pytest.mark.parametrize("in_fmt", ["txt", "csv", "parquet"])
def test_text_formats_match_in_memory(tmp_path, docs, text_model, in_fmt, out_ext):
    if in_fmt == "txt":
        src = write_txt(tmp_path / "in.txt", docs)
    elif in_fmt == "csv":
        src = write_csv(tmp_path / "in.csv", ["id", "text"], enumerate(docs))
    else:
        src = tmp_path / "in.parquet"
        pq.write_table(pa.table({"id": np.arange(len(docs)), "text": docs}), src)
    column = None if in_fmt == "txt" else "text"
    out = tmp_path / f"out{out_ext}"
    report = predict_file(text_model, src, out, column=column, batch_size=37)
    assert report.rows == len(docs) and report.chunks == 9 and report.output == str(out)
    same(read_output(out), text_model.predict(docs))
    out_p = tmp_path / f"proba{out_ext}"
    predict_file(text_model, src, out_p, column=column, proba=True, batch_size=64)
    same(read_output(out_p), text_model.predict_proba(docs))
    assert leftovers(tmp_path) == []


def test_text_batch_sizes_agree_and_columns_named(tmp_path, docs, text_model):
    src = write_txt(tmp_path / "in.txt", docs)
    ref = text_model.predict_log_proba(docs)
    for bs in (1, 7, 300, 10_000):
        predict_file(text_model, src, tmp_path / "o.npy", method="predict_log_proba",
                     batch_size=bs)
        np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), ref)
    predict_file(text_model, src, tmp_path / "o.csv", proba=True)
    header = (tmp_path / "o.csv").read_text().splitlines()[0]
    assert header == "proba_neg,proba_pos"


def test_text_file_crlf_bom_and_no_final_newline(tmp_path, text_model):
    docs = ["good fun", "bad awful", "great"]
    src = tmp_path / "in.txt"
    src.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(docs).encode())
    predict_file(text_model, src, tmp_path / "o.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), text_model.predict(docs))


def test_invalid_utf8_line_number_and_skip(tmp_path, text_model):
    src = tmp_path / "in.txt"
    src.write_bytes(b"good fun\nbad\xff awful\ngreat\n")
    with pytest.raises(BatchError, match=r"in.txt: row 2: invalid UTF-8"):
        predict_file(text_model, src, tmp_path / "o.npy", batch_size=2)
    assert not (tmp_path / "o.npy").exists() and leftovers(tmp_path) == []
    report = predict_file(text_model, src, tmp_path / "o.npy", on_error="skip", batch_size=2)
    assert report.skipped_rows == [2] and report.rows == 2
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"),
                                  text_model.predict(["good fun", "great"]))


def test_csv_malformed_rows_reported_and_skipped(tmp_path, text_model):
    src = tmp_path / "in.csv"
    src.write_text('id,text\n1,good fun\n2,"bad, awful",extra\n3,great\n\n4,boring\n')
    with pytest.raises(BatchError, match=r"row 2: expected 2 fields, got 3 \(line 3\)"):
        predict_file(text_model, src, tmp_path / "o.csv", column="text")
    assert not (tmp_path / "o.csv").exists()
    report = predict_file(text_model, src, tmp_path / "o.csv", column="text", on_error="skip")
    assert report.skipped_rows == [2] and report.rows == 3
    same(read_output(tmp_path / "o.csv"), text_model.predict(["good fun", "great", "boring"]))


def test_parquet_null_text_is_a_bad_row(tmp_path, text_model):
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["good", None, "bad"]}), src)
    with pytest.raises(BatchError, match=r"row 2: column 'text' is null"):
        predict_file(text_model, src, tmp_path / "o.npy")
    report = predict_file(text_model, src, tmp_path / "o.npy", on_error="skip")
    assert report.skipped_rows == [2]


def test_text_column_selection_errors(tmp_path, text_model, docs):
    src = write_csv(tmp_path / "in.csv", ["id", "text"], enumerate(docs[:5]))
    with pytest.raises(BatchError, match=r"has 2 columns \['id', 'text'\]; name the text"):
        predict_file(text_model, src, tmp_path / "o.npy")
    with pytest.raises(BatchError, match=r"no column 'body'"):
        predict_file(text_model, src, tmp_path / "o.npy", column="body")
    pq.write_table(pa.table({"n": [1, 2]}), tmp_path / "n.parquet")
    with pytest.raises(BatchError, match=r"column 'n' has type int64; text must be strings"):
        predict_file(text_model, tmp_path / "n.parquet", tmp_path / "o.npy")


@pytest.mark.parametrize("vectorizer", [CountVectorizer(), TfidfVectorizer()], ids=repr)
def test_vectorizer_alone_is_refused(tmp_path, docs, vectorizer):
    import fastgen

    src = write_txt(tmp_path / "in.txt", docs[:5])
    with pytest.raises(BatchError, match="is a vectorizer"):
        predict_file(vectorizer.fit(docs), src, tmp_path / "o.npy")
    fastgen.save(vectorizer, tmp_path / "v.fgm")  # a model file of one: the same
    with pytest.raises(BatchError, match="is a vectorizer"):
        predict_file(tmp_path / "v.fgm", src, tmp_path / "o.npy", method="transform")


def tfidf_models() -> dict:
    """Text models with a tf-idf front: TextClassifier and scikit-learn Pipelines."""
    from sklearn.pipeline import make_pipeline

    return {
        "text": TextClassifier(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                               ComplementNB()),
        "float32": TextClassifier(TfidfVectorizer(dtype=np.float32, norm="l1", min_df=2)),
        "pipeline": make_pipeline(TfidfVectorizer(use_idf=False), MultinomialNB(alpha=0.5)),
        "steps": make_pipeline(CountVectorizer(), TfidfTransformer(), MultinomialNB()),
    }


@pytest.mark.parametrize("name", ["text", "float32", "pipeline", "steps"])
def test_tfidf_front_model_file_matches_in_memory(tmp_path, docs, name):
    """A model file with a tf-idf front predicts from text/CSV files exactly as the
    model it was saved from does in memory."""
    import fastgen

    y = np.array(["pos" if ("good" in d or "great" in d or "fun" in d) else "neg" for d in docs])
    model = tfidf_models()[name].fit(docs, y)
    fastgen.save(model, tmp_path / "m.fgm")
    txt = write_txt(tmp_path / "in.txt", docs)
    src = write_csv(tmp_path / "in.csv", ["id", "text"], enumerate(docs))
    predict_file(tmp_path / "m.fgm", txt, tmp_path / "p.npy", batch_size=37)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), model.predict(docs))
    for method in ("predict_proba", "predict_log_proba"):
        predict_file(tmp_path / "m.fgm", src, tmp_path / "o.npy", column="text",
                     method=method, batch_size=64)
        np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), getattr(model, method)(docs))
    predict_file(tmp_path / "m.fgm", src, tmp_path / "o.csv", column="text", proba=True)
    header = (tmp_path / "o.csv").read_text().splitlines()[0]
    assert header == "proba_neg,proba_pos"


# --------------------------------------------------------------------------- HMM


def write_hmm_inputs(tmp_path, X, lengths):
    ids = np.repeat([f"seq{(7 * i) % 97}" for i in range(len(lengths))], lengths)
    first = np.zeros(len(X), dtype=object)
    first[:] = ""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    first[starts] = lengths
    rows = [[repr(a), repr(b), i, f] for (a, b), i, f in zip(X.tolist(), ids, first, strict=True)]
    csv_path = write_csv(tmp_path / "obs.csv", ["a", "b", "seq", "len"], rows)
    pq_path = tmp_path / "obs.parquet"
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "seq": ids}), pq_path)
    np.save(tmp_path / "obs.npy", X)
    np.save(tmp_path / "lengths.npy", lengths)
    return csv_path, pq_path


@pytest.mark.parametrize("batch_size", [1, 16, 100, 100_000])
def test_hmm_grouping_equals_in_memory(tmp_path, hmm_data, batch_size):
    model, X, lengths = hmm_data
    csv_path, pq_path = write_hmm_inputs(tmp_path, X, lengths)
    states = model.predict(X, lengths)
    post = model.predict_proba(X, lengths)
    cases = [
        (tmp_path / "obs.npy", dict(lengths=tmp_path / "lengths.npy")),
        (tmp_path / "obs.npy", dict(lengths=lengths.tolist())),
        (csv_path, dict(sequence_column="seq", column=["a", "b"])),
        (csv_path, dict(lengths_column="len", column=["a", "b"])),
        (pq_path, dict(sequence_column="seq")),
    ]
    for src, kw in cases:
        predict_file(model, src, tmp_path / "s.npy", batch_size=batch_size, **kw)
        np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), states)
        predict_file(model, src, tmp_path / "p.npy", batch_size=batch_size, proba=True, **kw)
        np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), post)


def test_hmm_chunks_hold_whole_sequences(tmp_path, hmm_data):
    model, X, lengths = hmm_data
    np.save(tmp_path / "obs.npy", X)
    chunks = list(read_chunks(tmp_path / "obs.npy", "sequences", batch_size=50, lengths=lengths))
    got = np.concatenate([c.lengths for c in chunks])
    np.testing.assert_array_equal(got, lengths)
    for c in chunks:
        assert c.lengths.sum() == len(c.data)
    assert len(chunks) > 3


def test_hmm_grouping_errors(tmp_path, hmm_data):
    model, X, lengths = hmm_data
    np.save(tmp_path / "obs.npy", X)
    with pytest.raises(BatchError, match="lengths add up to"):
        predict_file(model, tmp_path / "obs.npy", tmp_path / "o.npy", lengths=lengths[:-1] + 0)
    bad = lengths.copy()
    bad[-1] += 5
    with pytest.raises(BatchError, match="ends inside a sequence"):
        predict_file(model, tmp_path / "obs.npy", tmp_path / "o.npy", lengths=bad)
    rows = [["0.1", "0.2", "a"], ["0.3", "0.1", "b"], ["0.5", "0.5", "a"]]
    write_csv(tmp_path / "ids.csv", ["x", "y", "id"], rows)
    with pytest.raises(BatchError, match=r"row 3: sequence id 'a' appears again"):
        predict_file(model, tmp_path / "ids.csv", tmp_path / "o.npy", sequence_column="id")
    write_csv(tmp_path / "len.csv", ["x", "y", "n"], [["0.1", "0.2", "x"], ["0.3", "0.1", ""]])
    with pytest.raises(BatchError, match=r"row 1, column 'n': invalid sequence length 'x'"):
        predict_file(model, tmp_path / "len.csv", tmp_path / "o.npy", lengths_column="n")
    with pytest.raises(BatchError, match="one way to delimit sequences"):
        predict_file(model, tmp_path / "ids.csv", tmp_path / "o.npy", sequence_column="id",
                     lengths=[3])
    assert leftovers(tmp_path) == [] and not (tmp_path / "o.npy").exists()


def test_hmm_bad_row_drops_its_whole_sequence(tmp_path, hmm_data):
    model, X, lengths = hmm_data
    X = X.copy()
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    X[starts[3] + lengths[3] - 1, 1] = np.nan  # last row of sequence 3
    np.save(tmp_path / "obs.npy", X)
    with pytest.raises(BatchError, match=rf"row {starts[3] + lengths[3]}: NaN or infinity"):
        predict_file(model, tmp_path / "obs.npy", tmp_path / "o.npy", lengths=lengths)
    report = predict_file(model, tmp_path / "obs.npy", tmp_path / "o.npy", lengths=lengths,
                          on_error="skip", batch_size=20)
    keep = np.ones(len(X), dtype=bool)
    keep[starts[3] : starts[3] + lengths[3]] = False
    assert report.skipped_rows == (np.flatnonzero(~keep) + 1).tolist()
    assert "sequence dropped" in report.skip_reasons[0]
    expected = model.predict(X[keep], np.delete(lengths, 3))
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), expected)


def test_categorical_hmm_symbols_checked(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.integers(0, 4, (200, 1))
    lengths = np.array([50, 70, 80])
    model = CategoricalHMM(2, n_iter=5, random_state=0).fit(X, lengths)
    np.save(tmp_path / "sym.npy", X[:, 0])  # 1-D symbols are one column
    predict_file(model, tmp_path / "sym.npy", tmp_path / "o.npy", lengths=lengths)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), model.predict(X, lengths))
    bad = X[:, 0].astype(np.float64)
    bad[60] = 7
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(BatchError, match=r"row 61: symbol 7.0 is not an integer in \[0, 4\)"):
        predict_file(model, tmp_path / "bad.npy", tmp_path / "o.npy", lengths=lengths)


def _every_hmm_family():
    import fastgen.hmm as H

    rng = np.random.default_rng(8)
    gauss = rng.standard_normal((240, 2)) + rng.integers(0, 2, (240, 1)) * 3
    symbols = rng.integers(0, 4, (240, 1))
    return [
        (H.GMMHMM(2, n_mix=2, n_iter=3, random_state=0), gauss),
        (H.PoissonHMM(2, n_iter=3, random_state=0), rng.poisson(3.0, (240, 3))),
        (H.MultinomialHMM(2, n_trials=6, n_iter=3, random_state=0),
         rng.multinomial(6, [0.2, 0.3, 0.5], 240)),
        (H.VariationalGaussianHMM(2, n_iter=3, random_state=0), gauss),
        (H.VariationalCategoricalHMM(2, n_iter=3, random_state=0), symbols),
    ]


@pytest.mark.parametrize("case", range(5), ids=["gmm", "poisson", "multinomial",
                                                "variational-gaussian",
                                                "variational-categorical"])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "filter"])
def test_every_hmm_family_streams_like_the_api(tmp_path, case, method):
    """Each family's input layout (symbols, counts, features) is read from the model."""
    model, X = _every_hmm_family()[case]
    lengths = np.array([100, 60, 80])
    model.fit(X, lengths)
    np.save(tmp_path / "x.npy", X)
    predict_file(model, tmp_path / "x.npy", tmp_path / "o.npy", lengths=lengths,
                 method=method, batch_size=70)
    want = getattr(model, method)(X, lengths)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy").reshape(want.shape), want)


def test_hmm_without_grouping_is_one_sequence(tmp_path, hmm_data):
    model, X, _ = hmm_data
    np.save(tmp_path / "obs.npy", X)
    predict_file(model, tmp_path / "obs.npy", tmp_path / "o.npy", batch_size=10)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), model.predict(X))


@pytest.mark.parametrize("batch_size", [1, 7, 100_000])
def test_hmm_filter_streams_one_sequence_in_chunks(tmp_path, hmm_data, batch_size):
    """Without sequence boundaries, ``filter`` reads the file in row chunks and carries
    the forward message across them: the rows of one filter over the whole file."""
    model, X, lengths = hmm_data
    csv_path, _ = write_hmm_inputs(tmp_path, X, lengths)
    want = model.filter(X)
    report = predict_file(model, tmp_path / "obs.npy", tmp_path / "f.npy", method="filter",
                          batch_size=batch_size)  # fmt: skip
    assert report.chunks == -(-len(X) // batch_size)
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), want, rtol=0, atol=1e-12)
    predict_file(model, csv_path, tmp_path / "f.npy", method="filter", column=["a", "b"],
                 batch_size=batch_size)  # fmt: skip
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), want, rtol=0, atol=1e-12)
    # with boundaries: whole sequences, each filtered from its start
    predict_file(model, csv_path, tmp_path / "g.npy", method="filter", sequence_column="seq",
                 column=["a", "b"], batch_size=batch_size)  # fmt: skip
    np.testing.assert_allclose(np.load(tmp_path / "g.npy"), model.filter(X, lengths),
                               rtol=0, atol=1e-12)  # fmt: skip


# --------------------------------------------------------------------------- neural / numeric


@pytest.mark.parametrize("method", ["encode", "reconstruct", "score_samples", "decode"])
@pytest.mark.parametrize("in_fmt", ["npy", "csv", "parquet"])
def test_autoencoder_methods_and_formats(tmp_path, ae_file, method, in_fmt):
    import fastgen

    model = fastgen.load(ae_file, device="cpu")
    d = model.latent_dim if method == "decode" else model.n_features_in_
    X = np.random.default_rng(2).random((1000, d), dtype=np.float32)
    names = [f"f{i}" for i in range(d)]
    if in_fmt == "npy":
        src = tmp_path / "x.npy"
        np.save(src, X)
    elif in_fmt == "csv":
        src = write_csv(tmp_path / "x.csv", names, X.astype(str).tolist())
    else:
        src = tmp_path / "x.parquet"
        pq.write_table(pa.table({n: X[:, i] for i, n in enumerate(names)}), src)
    expected = getattr(model, method)(X)
    for out_ext in (".npy", ".csv", ".parquet"):
        out = tmp_path / f"o{out_ext}"
        report = predict_file(ae_file, src, out, method=method, batch_size=300, device="cpu")
        assert report.chunks == 4 and report.method == method
        same(read_output(out), expected, exact=False)
    got = np.load(tmp_path / "o.npy")
    assert got.dtype == expected.dtype


def test_vae_default_method_is_encode_and_batch_sizes_agree(tmp_path):
    import fastgen

    path = make_onnx_autoencoder(tmp_path / "vae.fgm", 5, 2, vae=True)
    model = fastgen.load(path)
    X = np.random.default_rng(0).random((500, 5))
    np.save(tmp_path / "x.npy", X)
    outs = []
    for bs in (1, 33, 500):
        predict_file(model, tmp_path / "x.npy", tmp_path / "o.npy", batch_size=bs)
        outs.append(np.load(tmp_path / "o.npy"))
    np.testing.assert_allclose(outs[0], model.encode(X), rtol=1e-6, atol=1e-7)
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=1e-6, atol=1e-7)
    with pytest.raises(BatchError, match="does not apply"):
        predict_file(model, tmp_path / "x.npy", tmp_path / "o.npy", proba=True)
    with pytest.raises(BatchError, match=r"no batch method 'predict'"):
        predict_file(model, tmp_path / "x.npy", tmp_path / "o.npy", method="predict")


def test_feature_mismatch_fails_before_any_work(tmp_path, ae_file):
    np.save(tmp_path / "x.npy", np.zeros((10, 4), dtype=np.float32))
    with pytest.raises(BatchError, match=r"has 4 feature column\(s\), but the model's encode "
                                         r"expects 6"):
        predict_file(ae_file, tmp_path / "x.npy", tmp_path / "o.npy")
    write_csv(tmp_path / "x.csv", ["a", "b"], [[1, 2]])
    with pytest.raises(BatchError, match=r"has 2 feature column\(s\) \['a', 'b'\]"):
        predict_file(ae_file, tmp_path / "x.csv", tmp_path / "o.npy")
    assert leftovers(tmp_path) == [] and not (tmp_path / "o.npy").exists()


def test_numeric_csv_bad_values(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    model = GaussianNB().fit(X, y)
    rows = X.astype(str).tolist()
    rows[4][1] = "abc"
    rows[9][2] = "nan"
    rows[20] = rows[20][:2]
    write_csv(tmp_path / "x.csv", ["a", "b", "c"], rows)
    with pytest.raises(BatchError, match=r"row 5: column 'b': 'abc' is not a number"):
        predict_file(model, tmp_path / "x.csv", tmp_path / "o.npy")
    report = predict_file(model, tmp_path / "x.csv", tmp_path / "o.csv", on_error="skip",
                          proba=True, batch_size=8)
    assert report.skipped_rows == [5, 10, 21]
    keep = np.setdiff1d(np.arange(40), [4, 9, 20])
    same(read_output(tmp_path / "o.csv"), model.predict_proba(X[keep]))
    assert (tmp_path / "o.csv").read_text().splitlines()[0] == "proba_0,proba_1"


def test_parquet_nulls_and_non_numeric_columns(tmp_path):
    model = GaussianNB().fit(np.eye(2), [0, 1])
    pq.write_table(pa.table({"a": [1.0, None, 3.0], "b": [1, 2, 3]}), tmp_path / "x.parquet")
    with pytest.raises(BatchError, match=r"row 2: column 'a' is null"):
        predict_file(model, tmp_path / "x.parquet", tmp_path / "o.npy")
    pq.write_table(pa.table({"a": [1.0], "b": ["x"]}), tmp_path / "s.parquet")
    with pytest.raises(BatchError, match=r"column 'b' has type string; numbers are expected"):
        predict_file(model, tmp_path / "s.parquet", tmp_path / "o.npy")


def test_fortran_and_big_endian_npy(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    model = GaussianNB().fit(X, rng.integers(0, 3, 50))
    np.save(tmp_path / "f.npy", np.asfortranarray(X))
    np.save(tmp_path / "b.npy", X.astype(">f8"))
    for name in ("f.npy", "b.npy"):
        predict_file(model, tmp_path / name, tmp_path / "o.npy", batch_size=7, proba=True)
        np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), model.predict_proba(X))


# --------------------------------------------------------------------------- files and faults


def test_missing_and_unknown_files(tmp_path, text_model, docs):
    src = write_txt(tmp_path / "in.txt", docs[:5])
    with pytest.raises(BatchError, match="nope.txt: input file not found"):
        predict_file(text_model, tmp_path / "nope.txt", tmp_path / "o.npy")
    with pytest.raises(BatchError, match="model file not found"):
        predict_file(tmp_path / "nope.fgm", src, tmp_path / "o.npy")
    with pytest.raises(BatchError, match=r"unknown output format \(extension '.json'\)"):
        predict_file(text_model, src, tmp_path / "o.json")
    (tmp_path / "in.xlsx").write_text("x")
    with pytest.raises(BatchError, match=r"unknown input format \(extension '.xlsx'\)"):
        predict_file(text_model, tmp_path / "in.xlsx", tmp_path / "o.npy")
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(BatchError, match="would overwrite the input"):
        predict_file(GaussianNB().fit(np.eye(2), [0, 1]), tmp_path / "x.csv", tmp_path / "x.csv")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(BatchError, match="no rows to predict"):
        predict_file(text_model, tmp_path / "empty.txt", tmp_path / "o.npy")
    (tmp_path / "bad.npy").write_bytes(b"not an npy file")
    with pytest.raises(BatchError, match="not a readable .npy array"):
        predict_file(GaussianNB().fit(np.eye(2), [0, 1]), tmp_path / "bad.npy", tmp_path / "o.npy")
    assert not (tmp_path / "o.npy").exists() and leftovers(tmp_path) == []


def test_bad_arguments(tmp_path, text_model, docs):
    src = write_txt(tmp_path / "in.txt", docs[:5])
    with pytest.raises(ValueError, match="on_error"):
        predict_file(text_model, src, tmp_path / "o.npy", on_error="ignore")
    with pytest.raises(ValueError, match="batch_size"):
        predict_file(text_model, src, tmp_path / "o.npy", batch_size=0)
    with pytest.raises(ValueError, match="device"):
        predict_file(text_model, src, tmp_path / "o.npy", device="tpu")
    with pytest.raises(BatchError, match="device='cuda' needs a neural model"):
        predict_file(text_model, src, tmp_path / "o.npy", device="cuda")
    with pytest.raises(BatchError, match="proba=True conflicts"):
        predict_file(text_model, src, tmp_path / "o.npy", proba=True, method="predict")
    with pytest.raises(BatchError, match="sequence .HMM. inputs only"):
        predict_file(text_model, src, tmp_path / "o.npy", sequence_column="id")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_output_directory(tmp_path, text_model, docs):
    src = write_txt(tmp_path / "in.txt", docs[:5])
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(BatchError, match="is not writable"):
            predict_file(text_model, src, locked / "o.npy")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_unwritable_output_simulated(tmp_path, text_model, docs, monkeypatch):
    """The same checks as above, for runs as root (which ignores permissions)."""
    import fastgen.batch._writers as writers

    src = write_txt(tmp_path / "in.txt", docs[:5])
    monkeypatch.setattr(writers.os, "access", lambda path, mode: False)
    with pytest.raises(BatchError, match="is not writable"):
        predict_file(text_model, src, tmp_path / "o.npy")
    monkeypatch.undo()

    def denied(self):
        raise PermissionError(13, "Permission denied", self.tmp)

    monkeypatch.setattr(writers.CsvWriter, "_open", denied)
    with pytest.raises(BatchError, match=r"cannot write the output \(permission denied\)"):
        predict_file(text_model, src, tmp_path / "o.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_missing_output_directory(tmp_path, text_model, docs):
    src = write_txt(tmp_path / "in.txt", docs[:5])
    with pytest.raises(BatchError, match="output directory .* does not exist"):
        predict_file(text_model, src, tmp_path / "no" / "o.npy")


def test_disk_full_leaves_no_partial_file(tmp_path, text_model, docs, monkeypatch):
    src = write_txt(tmp_path / "in.txt", docs)
    import fastgen.batch._writers as writers

    calls = {"n": 0}
    real = writers.NpyWriter._write

    def full(self, values):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real(self, values)

    monkeypatch.setattr(writers.NpyWriter, "_write", full)
    (tmp_path / "o.npy").write_bytes(b"old")  # an existing output is left untouched
    with pytest.raises(BatchError, match="no space left on device"):
        predict_file(text_model, src, tmp_path / "o.npy", batch_size=50)
    assert (tmp_path / "o.npy").read_bytes() == b"old"
    assert leftovers(tmp_path) == []


class _Exploding:
    """Wraps a model; raises ``exc`` on the ``when``-th call."""

    def __init__(self, model, exc, when=3):
        self.model, self.exc, self.when, self.calls = model, exc, when, 0
        self.vectorizer_, self.classifier_ = model.vectorizer_, model.classifier_
        self.classes_ = model.classes_

    def predict(self, docs):
        self.calls += 1
        if self.calls == self.when:
            raise self.exc
        return self.model.predict(docs)


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
@pytest.mark.parametrize("out_ext", [".npy", ".csv", ".parquet"])
def test_exception_mid_stream_leaves_nothing(tmp_path, text_model, docs, exc, out_ext):
    src = write_txt(tmp_path / "in.txt", docs)
    model = _Exploding(text_model, exc)
    with pytest.raises(type(exc)):
        predict_file(model, src, tmp_path / f"o{out_ext}", batch_size=20)
    assert model.calls == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_wrong_output_length_is_an_error(tmp_path, docs, text_model):
    class Short(_Exploding):
        def predict(self, docs):
            return self.model.predict(docs)[:-1]

    src = write_txt(tmp_path / "in.txt", docs)
    with pytest.raises(BatchError, match=r"predict returned 9 rows for 10 input rows"):
        predict_file(Short(text_model, None), src, tmp_path / "o.npy", batch_size=10)
    assert not (tmp_path / "o.npy").exists()


def test_model_file_paths_are_loaded(tmp_path, docs, text_model, hmm_data):
    import fastgen

    fastgen.save(text_model, tmp_path / "nb.fgm")
    src = write_txt(tmp_path / "in.txt", docs)
    predict_file(tmp_path / "nb.fgm", src, tmp_path / "o.npy", proba=True)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), text_model.predict_proba(docs))
    model, X, lengths = hmm_data
    fastgen.save(model, tmp_path / "hmm.fgm")
    np.save(tmp_path / "x.npy", X)
    predict_file(str(tmp_path / "hmm.fgm"), tmp_path / "x.npy", tmp_path / "s.npy",
                 lengths=lengths)
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), model.predict(X, lengths))
    with pytest.raises(BatchError, match="runs on the CPU"):
        predict_file(tmp_path / "hmm.fgm", tmp_path / "x.npy", tmp_path / "s.npy",
                     lengths=lengths, device="cuda")


class _RowModel:
    """A numeric model: ``predict`` gives ``value`` for rows whose first feature is 7."""

    n_features_in_ = 2

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, X):
        return np.where(X[:, 0] == 7, self.value, X[:, 1])


def test_nan_output_is_an_error_naming_model_and_row(tmp_path):
    X = np.zeros((20, 2))
    X[12, 0] = X[15, 0] = 7
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "o.npy").write_bytes(b"old")  # an existing output is left untouched
    for batch_size in (3, 100):
        with pytest.raises(BatchError, match=r"^_RowModel \(in memory\): model produced NaN for "
                           r"row 13 of .*x\.npy; the model may be corrupt$"):
            predict_file(_RowModel(np.nan), tmp_path / "x.npy", tmp_path / "o.npy",
                         batch_size=batch_size)
        assert (tmp_path / "o.npy").read_bytes() == b"old" and leftovers(tmp_path) == []
    predict_file(_RowModel(-np.inf), tmp_path / "x.npy", tmp_path / "o.npy", batch_size=3)
    assert np.isneginf(np.load(tmp_path / "o.npy")).sum() == 2  # -inf is a legitimate value


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_row_counts_skipped_rows(tmp_path):
    """A poisoned model file (NaN in memory; saved files with NaN are refused at load)."""
    import fastgen

    model = TextClassifier(CountVectorizer(), MultinomialNB()).fit(
        ["good fun", "bad plot", "poison pill"], [1, 0, 1]
    )
    model.classifier_.feature_log_prob_[:, model.vectorizer_.vocabulary_["poison"]] = np.nan
    src = tmp_path / "in.txt"
    src.write_bytes(b"good fun\nbad\xff plot\ngreat\npoison\nfun\n")
    for out in ("o.npy", "o.csv", "o.parquet"):
        with pytest.raises(BatchError, match=r"model produced NaN for row 4 of .*in\.txt"):
            predict_file(model, src, tmp_path / out, proba=True, on_error="skip", batch_size=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]
    # a model file is named: a stand-in for a file that loads poisoned
    fastgen.save(TextClassifier(CountVectorizer(), MultinomialNB()).fit(["aa", "bb"], [0, 1]),
                 tmp_path / "m.fgm")
    import fastgen.batch._engine as engine

    real = engine.load_model

    def load_poisoned(path, *args, **kwargs):
        real(path, *args, **kwargs)
        return model

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "load_model", load_poisoned)
        with pytest.raises(BatchError, match=r"^\S*m\.fgm: model produced NaN for row 4 of "
                           r".*; the model file may be corrupt$"):
            predict_file(tmp_path / "m.fgm", src, tmp_path / "o.npy", proba=True,
                         on_error="skip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "m.fgm"]


def test_first_nan_row():
    from fastgen.batch._common import first_nan_row

    assert first_nan_row(np.array([1.0, -np.inf, np.inf])) is None
    assert first_nan_row(np.array([[0.0, 1.0], [2.0, np.nan], [np.nan, 0.0]])) == 1
    assert first_nan_row(np.array([0, 1, 2])) is None
    assert first_nan_row(np.array(["nan", "x"])) is None
    assert first_nan_row(np.zeros((0, 3))) is None
    assert first_nan_row(np.array([1 + 1j, complex(0, np.nan)])) == 1
    assert first_nan_row(np.array([0.0, np.nan], dtype=np.float32)) == 1


def test_trusted_and_max_size_reach_the_loader(tmp_path, docs, text_model, monkeypatch):
    import fastgen
    from fastgen._modelfile import ModelFileError
    from fastgen.batch import load_model

    fastgen.save(text_model, tmp_path / "nb.fgm")
    src = write_txt(tmp_path / "in.txt", docs)
    with pytest.raises(ModelFileError, match=r"nb\.fgm: .*more than the 100 allowed"):
        predict_file(tmp_path / "nb.fgm", src, tmp_path / "o.npy", max_size=100)
    with pytest.raises(ModelFileError, match="more than the 100 allowed"):
        load_model(tmp_path / "nb.fgm", max_size=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "nb.fgm"]
    seen = []
    real = fastgen.load
    monkeypatch.setattr(fastgen, "load", lambda path, **kw: seen.append(kw) or real(path, **kw))
    predict_file(tmp_path / "nb.fgm", src, tmp_path / "o.npy", trusted=True, max_size=10**6)
    load_model(str(tmp_path / "nb.fgm"))
    assert seen == [{"trusted": True, "max_size": 10**6}, {"trusted": False, "max_size": None}]
    ae = make_onnx_autoencoder(tmp_path / "ae.fgm")
    load_model(ae, "cpu", trusted=True, max_size=10**6)
    assert seen[-1] == {"trusted": True, "max_size": 10**6, "device": "cpu"}


def test_writer_cleanup_survives_signals(tmp_path, monkeypatch):
    from fastgen.batch import remove_pending_outputs

    # a writer made but never entered (a signal between the two): found and removed
    writer = open_writer(tmp_path / "o.npy")
    assert len(leftovers(tmp_path)) == 1
    remove_pending_outputs()
    assert leftovers(tmp_path) == []
    writer.abort()
    # closing interrupted by a second KeyboardInterrupt: the temporary file still goes
    writer = open_writer(tmp_path / "o.csv")

    def interrupted_close() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "_close", interrupted_close)
    with pytest.raises(KeyboardInterrupt), writer:
        writer.write(np.arange(3))
        raise RuntimeError("first error")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # an interrupted open removes what it created
    import fastgen.batch._writers as writers

    def interrupted_open(self) -> None:
        open(self.tmp, "xb").close()
        raise KeyboardInterrupt

    monkeypatch.setattr(writers.NpyWriter, "_open", interrupted_open)
    with pytest.raises(KeyboardInterrupt):
        open_writer(tmp_path / "o.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert not writers._PENDING


# --------------------------------------------------------------------------- building blocks


def test_predict_chunks_and_read_chunks_reuse(tmp_path, docs, text_model):
    src = write_txt(tmp_path / "in.txt", docs)
    reader = read_chunks(src, "text", batch_size=100)
    assert reader.total_rows is None
    outs = list(predict_chunks(text_model, reader, proba=True))
    assert [len(o) for o in outs] == [100, 100, 100]
    np.testing.assert_array_equal(np.vstack(outs), text_model.predict_proba(docs))
    plain = list(predict_chunks(text_model, [docs[:5], docs[5:9]]))
    np.testing.assert_array_equal(np.concatenate(plain), text_model.predict(docs[:9]))
    with pytest.raises(RuntimeError, match="iterated once"):
        list(reader)


def test_read_chunks_numeric_metadata(tmp_path):
    X = np.arange(12.0).reshape(6, 2)
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "c": ["x"] * 6}), tmp_path / "x.pq")
    with read_chunks(tmp_path / "x.pq", column=["b", "a"], batch_size=4) as reader:
        assert reader.n_features == 2 and reader.total_rows == 6
        chunks = list(reader)
    assert [c.first_row for c in chunks] == [1, 5]
    np.testing.assert_array_equal(np.vstack([c.data for c in chunks]), X[:, ::-1])


def test_read_lengths_side_files(tmp_path):
    (tmp_path / "l.txt").write_text("3\n4\n\n2\n")
    np.testing.assert_array_equal(read_lengths(tmp_path / "l.txt"), [3, 4, 2])
    write_csv(tmp_path / "l.csv", ["id", "n"], [["a", 3], ["b", 1]])
    np.testing.assert_array_equal(read_lengths(tmp_path / "l.csv", "n"), [3, 1])
    (tmp_path / "bad.txt").write_text("3\n0\n")
    with pytest.raises(BatchError, match=r"row 2: invalid sequence length '0'"):
        read_lengths(tmp_path / "bad.txt")
    with pytest.raises(BatchError, match="positive"):
        read_lengths([2, -1])


def test_writer_checks_shape_and_dtype(tmp_path):
    with pytest.raises(BatchError, match="changed shape"):
        with open_writer(tmp_path / "o.npy") as w:
            w.write(np.zeros((3, 2)))
            w.write(np.zeros((3, 3)))
    with pytest.raises(BatchError, match="changed dtype"):
        with open_writer(tmp_path / "o.npy") as w:
            w.write(np.zeros(3, dtype=np.int64))
            w.write(np.zeros(3))
    with open_writer(tmp_path / "o.npy") as w:
        w.write(np.arange(3, dtype=np.int32))
        w.write(np.arange(2, dtype=np.int16))
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), [0, 1, 2, 0, 1])
    assert leftovers(tmp_path) == []


def test_npy_writer_large_row_count_header(tmp_path):
    with open_writer(tmp_path / "o.npy") as w:
        w.write(np.ones((2, 3), dtype=np.float32))
    raw = (tmp_path / "o.npy").read_bytes()
    assert len(raw) == 128 + 24 and raw[127:128] == b"\n"
    w = open_writer(tmp_path / "p.npy")
    w.width, w.dtype = 100_000, np.dtype("<U40")
    assert len(w._header(10**15)) == 128  # room for any realistic shape
    w.abort()


# --------------------------------------------------------------------------- progress


def test_progress_forced_on_and_off(tmp_path, docs, text_model, capsys):
    src = write_txt(tmp_path / "in.txt", docs)
    predict_file(text_model, src, tmp_path / "o.npy", batch_size=50, progress=True)
    err = capsys.readouterr().err
    assert "300 rows" in err and "rows/s" in err and "100.0%" in err and err.endswith("\n")
    predict_file(text_model, src, tmp_path / "o.npy", batch_size=50, progress=None)
    predict_file(text_model, src, tmp_path / "o.npy", batch_size=50, progress=False)
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest


def test_progress_line_eta_and_throttle():
    t = [0.0]
    out = io.StringIO()
    bar = Progress(total=1000, enabled=True, stream=out, clock=lambda: t[0])
    for _ in range(10):
        t[0] += 0.01
        bar.update(10)  # 100 rows in 0.1 s: drawn at most twice at 10 Hz
    assert out.getvalue().count("\r") <= 2
    t[0] = 1.0
    line = bar.line()
    assert "100/1,000 rows" in line and "10.0%" in line and "ETA 0:09" in line
    bar.close()
    bar.close()
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1
    assert format_duration(3725) == "1:02:05" and format_duration(65) == "1:05"


def test_progress_auto_is_off_for_non_tty():
    out = io.StringIO()
    bar = Progress(enabled=None, stream=out)
    bar.update(5, fraction=0.5)
    bar.close()
    assert out.getvalue() == "" and bar.done == 5


# --------------------------------------------------------------------------- memory


_RSS_CHILD = textwrap.dedent(
    """
    import json, sys
    from fastgen.batch import predict_file
    predict_file(sys.argv[1], sys.argv[2], sys.argv[3], batch_size=2048, device="cpu")
    peak = None
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    print(json.dumps({"peak_mb": peak}))
    """
)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_peak_memory_does_not_grow_with_input(tmp_path):
    """10x the rows (npy -> npy through an AE) stays under 1.2x the peak RSS.

    The large input is 77 MB (300,000 x 64 float32), more than half the small run's
    peak RSS: reading it whole (or keeping its pages mapped) would fail the test.
    """
    ae_file = make_onnx_autoencoder(tmp_path / "ae64.fgm", 64, 8)
    rng = np.random.default_rng(0)
    peaks = {}
    for n in (30_000, 300_000):
        src = tmp_path / f"x{n}.npy"
        np.save(src, rng.random((n, 64), dtype=np.float32))
        proc = subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, str(ae_file), str(src), str(tmp_path / "o.npy")],
            capture_output=True, text=True, timeout=120, check=True,
        )
        peaks[n] = json.loads(proc.stdout.strip().splitlines()[-1])["peak_mb"]
        assert np.load(tmp_path / "o.npy", mmap_mode="r").shape == (n, 8)
        src.unlink()
    assert peaks[300_000] < 1.2 * peaks[30_000], peaks


def test_chunk_dataclass():
    c = Chunk([1, 2, 3], 1)
    assert len(c) == 3 and c.lengths is None
