# cython: language_level=3
"""Holders of the named bundles (see ``_bundles.pxd``): arrays checked once, structs out."""

import numpy as np

cimport numpy as cnp

from libc.stdint cimport int64_t

cnp.import_array()

LANES = 8  # keep equal to _numeric.pxd's LANES


cdef const double *_f8(object a, tuple shape, str name) except? NULL:
    """Pointer to the data of ``a``, a C-contiguous float64 array of ``shape``."""
    if not isinstance(a, np.ndarray) or a.dtype != np.float64 or not a.flags.c_contiguous:
        raise TypeError(f"{name} must be a C-contiguous float64 array")
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
    return <const double *>cnp.PyArray_DATA(a)


cdef const int64_t *_i8(object a, tuple shape, str name) except? NULL:
    if not isinstance(a, np.ndarray) or a.dtype != np.int64 or not a.flags.c_contiguous:
        raise TypeError(f"{name} must be a C-contiguous int64 array")
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
    return <const int64_t *>cnp.PyArray_DATA(a)


cdef class EmissionArrays:
    """Emission model of the kernels (``Emissions``), from arrays built by
    ``fastgen._kernels.hmm.emissions`` (which validates their values).

    Parameters
    ----------
    kind : int
        ``EMIT_*``.
    n_samples, n_components : int
    **arrays
        The arrays ``kind`` reads: ``X``, ``means``, ``inv``, ``const`` (EMIT_DIAG);
        ``X``, ``means``, ``lt``, ``const`` (EMIT_FULL); ``sym``, ``table``
        (EMIT_CATEGORICAL); ``log_frame`` (EMIT_LOG_FRAMES).  Shapes as in
        ``_bundles.pxd``.
    """

    def __cinit__(self, int kind, Py_ssize_t n_samples, Py_ssize_t n_components, **arrays):
        cdef Py_ssize_t n = n_samples, nc = n_components, nf = 0, ns = 0
        self.kind = kind
        self._arrays = dict(arrays)
        self.c.kind = kind
        self.c.n_samples = n
        self.c.n_components = nc
        self.c.X = self.c.means = self.c.inv = self.c.lt = NULL
        self.c.const_ = self.c.table = self.c.log_frame = NULL
        self.c.sym = self.c.clamp = NULL
        if kind == EMIT_DIAG or kind == EMIT_FULL:
            X = arrays["X"]
            nf = X.shape[1] if X.ndim == 2 else -1
            self.c.X = _f8(X, (n, nf), "X")
            self.c.means = _f8(arrays["means"], (nc, nf), "means")
            self.c.const_ = _f8(arrays["const"], (nc,), "const")
            if kind == EMIT_DIAG:
                self.c.inv = _f8(arrays["inv"], (nc, nf), "inv")
            else:
                self.c.lt = _f8(arrays["lt"], (nc, nf, nf), "lt")
        elif kind == EMIT_CATEGORICAL:
            table = arrays["table"]
            ns = table.shape[0] if table.ndim == 2 else -1
            self.c.table = _f8(table, (ns, nc), "table")
            sym = np.array(arrays["sym"], dtype=np.int64, copy=True)  # our own: checked once
            self._arrays["sym"] = sym
            self.c.sym = _i8(sym, (n,), "sym")
            if n and (sym.min() < 0 or sym.max() >= ns):
                raise ValueError(f"symbols must lie in [0, {ns})")
        elif kind == EMIT_LOG_FRAMES:
            self.c.log_frame = _f8(arrays["log_frame"], (n, nc), "log_frame")
        else:
            raise ValueError(f"unknown emission kind {kind!r}")
        self.c.n_features = nf
        self.c.n_symbols = ns
        clamp = arrays.get("clamp")
        if clamp is not None:  # our own copy, checked once
            clamp = np.array(clamp, dtype=np.int64, copy=True)
            self._arrays["clamp"] = clamp
            self.c.clamp = _i8(clamp, (n,), "clamp")
            if n and (clamp.min() < -1 or clamp.max() >= nc):
                raise ValueError(f"clamped states must lie in [-1, {nc})")

    @property
    def arrays(self):
        """The arrays behind the bundle (a new dict; the bundle keeps its own)."""
        return dict(self._arrays)

    @property
    def clamped(self):
        """Whether some frames are pinned to one state (``clamp``)."""
        return self.c.clamp != NULL

    @property
    def n_samples(self):
        return self.c.n_samples

    @property
    def n_components(self):
        return self.c.n_components

    @property
    def n_features(self):
        return self.c.n_features

    @property
    def n_symbols(self):
        return self.c.n_symbols


cdef class ScaledArrays:
    """Scaled categorical emissions (``ScaledTable``): ``rows`` (n_symbols, nc),
    ``shift`` (n_symbols,), ``flag`` bool (n_symbols,); all empty for other kinds."""

    def __cinit__(self, rows, shift, flag, Py_ssize_t n_components):
        cdef Py_ssize_t ns = shift.shape[0] if shift.ndim == 1 else -1
        self.c.n_symbols = ns
        self.n_components = n_components
        self.c.rows = _f8(rows, (ns, n_components) if ns else rows.shape, "rows")
        self.c.shift = _f8(shift, (ns,), "shift")
        flag8 = np.ascontiguousarray(flag, dtype=np.uint8)
        if flag8.shape != (ns,):
            raise ValueError("flag must have one entry per symbol")
        self.c.flag = <const unsigned char *>cnp.PyArray_DATA(flag8)
        self._keep = (rows, shift, flag8)


cdef class ChainArrays:
    """The Markov chain (``Chain`` and, for Viterbi, ``LogChain``) from ``startprob``
    (nc,) and ``transmat`` (nc, nc), float64; ``log_space`` selects hmmlearn's "log"
    implementation (else "scaling")."""

    def __cinit__(self, startprob, transmat, bint log_space):
        sp = np.ascontiguousarray(startprob, dtype=np.float64)
        tm = np.ascontiguousarray(transmat, dtype=np.float64)
        cdef Py_ssize_t nc = sp.shape[0] if sp.ndim == 1 else -1
        cdef Py_ssize_t ncp = -(-nc // LANES) * LANES
        tt = np.ascontiguousarray(tm.T) if tm.ndim == 2 else tm
        tp = np.zeros((nc, ncp))
        ttp = np.zeros((nc, ncp))
        self.c.startprob = _f8(sp, (nc,), "startprob")
        self.c.transmat = _f8(tm, (nc, nc), "transmat")
        tp[:, :nc] = tm
        ttp[:, :nc] = tt
        with np.errstate(divide="ignore"):
            ls, lt = np.log(sp), np.log(tm)
        ltt = np.ascontiguousarray(lt.T)
        self.c.nc = nc
        self.c.ncp = ncp
        self.c.transmat_t = _f8(tt, (nc, nc), "transmat.T")
        self.c.transmat_p = _f8(tp, (nc, ncp), "padded transmat")
        self.c.transmat_tp = _f8(ttp, (nc, ncp), "padded transmat.T")
        self.c.a_min = float(tm.min()) if tm.size else 0.0
        self.c.log_space = log_space
        self.lc.nc = nc
        self.lc.log_start = _f8(ls, (nc,), "log startprob")
        self.lc.log_trans = _f8(lt, (nc, nc), "log transmat")
        self.lc.log_trans_t = _f8(ltt, (nc, nc), "log transmat.T")
        self._keep = (sp, tm, tt, tp, ttp, ls, lt, ltt)

    @property
    def n_components(self):
        return self.c.nc

    @property
    def log_space(self):
        return bool(self.c.log_space)


cdef class Accumulators:
    """Zeroed accumulators with ``n_rows`` rows (one per chunk or time block):
    ``start`` (rows, nc), ``trans`` (rows, nc, nc), ``post`` (rows, nc), ``obs`` (rows,
    nc, n_obs), ``sq`` (rows, nc, n_sq), ``outer`` (rows, nc, n_outer); ``weight``:
    float64 (n_samples,) frame weights (C-contiguous) or None, see ``Accum``."""

    def __cinit__(
        self, Py_ssize_t n_rows, Py_ssize_t nc, Py_ssize_t n_obs, Py_ssize_t n_sq,
        Py_ssize_t n_outer, weight=None,
    ):
        self.n_rows, self.nc, self.n_obs, self.n_sq, self.n_outer = n_rows, nc, n_obs, n_sq, n_outer
        if weight is not None:
            if not isinstance(weight, np.ndarray) or weight.ndim != 1:
                raise ValueError("weight must be a 1-D float64 array")
            _f8(weight, (weight.shape[0],), "weight")
        self.weight = weight
        self.start = np.zeros((n_rows, nc))
        self.trans = np.zeros((n_rows, nc, nc))
        self.post = np.zeros((n_rows, nc))
        self.obs = np.zeros((n_rows, nc, n_obs))
        self.sq = np.zeros((n_rows, nc, n_sq))
        self.outer = np.zeros((n_rows, nc, n_outer))

    cdef Accum row(self, Py_ssize_t i) noexcept:
        cdef Accum a
        cdef Py_ssize_t nc = self.nc
        a.n_obs = self.n_obs
        a.weight = (
            <const double *>cnp.PyArray_DATA(self.weight) if self.weight is not None else NULL
        )
        a.start = <double *>cnp.PyArray_DATA(self.start) + i * nc
        a.trans = <double *>cnp.PyArray_DATA(self.trans) + i * nc * nc
        a.post = <double *>cnp.PyArray_DATA(self.post) + i * nc
        a.obs = <double *>cnp.PyArray_DATA(self.obs) + i * nc * self.n_obs
        a.sq = <double *>cnp.PyArray_DATA(self.sq) + i * nc * self.n_sq if self.n_sq else NULL
        a.outer = (
            <double *>cnp.PyArray_DATA(self.outer) + i * nc * self.n_outer if self.n_outer else NULL
        )
        return a


cdef int check_sequences(
    object startidx, object seqs, Py_ssize_t n_samples, object log_prob
) except -1:
    """Check sequence bounds (see ``Sequences``), the sequence ids ``seqs`` (int64, in
    range) and ``log_prob`` (float64, one entry per sequence) before a kernel runs."""
    for a, name in ((startidx, "startidx"), (seqs, "seqs")):
        if not isinstance(a, np.ndarray) or a.ndim != 1:
            raise ValueError(f"{name} must be a 1-D int64 array")
        _i8(a, (a.shape[0],), name)
    if not isinstance(log_prob, np.ndarray):
        raise ValueError("log_prob must be a float64 array")
    n_seq = startidx.shape[0] - 1
    if (
        n_seq < 0 or startidx[0] != 0 or startidx[n_seq] != n_samples
        or (n_seq > 0 and np.any(np.diff(startidx) <= 0))
    ):
        raise ValueError("startidx must rise strictly from 0 to n_samples")
    if seqs.shape[0] and (seqs.min() < 0 or seqs.max() >= n_seq):
        raise ValueError("sequence ids out of range")
    _f8(log_prob, (n_seq,), "log_prob")
    if not log_prob.flags.writeable:
        raise ValueError("log_prob must be writeable")
    return 0


cdef Want make_want(object want) except *:
    """``Want`` from ``(post, gamma, xi, stats)``."""
    cdef Want w
    post, gamma, xi, stats = want
    w.post = bool(post)
    w.gamma = w.post and bool(gamma)
    w.xi = w.post and bool(xi)
    w.stats = int(stats) if w.post else STATS_NONE
    if not STATS_NONE <= w.stats <= STATS_CATEGORICAL:
        raise ValueError(f"unknown statistics kind {w.stats}")
    return w


cdef double *gamma_ptr(object gamma, Py_ssize_t n_samples, Py_ssize_t nc) except? NULL:
    """Data of the posterior output ``gamma`` (n_samples, nc), or NULL for None."""
    if gamma is None:
        return NULL
    cdef double *p = <double *>_f8(gamma, (n_samples, nc), "gamma")
    if not gamma.flags.writeable:
        raise ValueError("gamma must be writeable")
    return p


cdef int check_work(
    const Want *w, EmissionArrays em, ScaledArrays scaled, ChainArrays chain, Accumulators acc
) except -1:
    """The chain, the scaled table and the accumulators fit the emissions and what is
    computed (so no kernel dereferences a missing buffer or writes past one); ``scaled``
    may be None where a kernel does not read it."""
    cdef const Emissions *e = &em.c
    cdef Py_ssize_t nf = e.n_features, nc = e.n_components
    cdef bint gaussian = e.kind == EMIT_DIAG or e.kind == EMIT_FULL
    if em is None or chain is None or acc is None:
        raise TypeError("emissions, chain and accumulators are required")
    if chain.c.nc != nc or acc.nc != nc:
        raise ValueError("chain, emissions and accumulators disagree on n_components")
    if acc.weight is not None and acc.weight.shape[0] != e.n_samples:
        raise ValueError("frame weights must have one entry per frame")
    if scaled is not None:
        check_scaled(em, scaled)
    if w.stats == STATS_CATEGORICAL:
        if e.kind != EMIT_CATEGORICAL or acc.n_obs != e.n_symbols:
            raise ValueError(
                "categorical statistics need categorical emissions and n_symbols columns"
            )
    elif w.stats != STATS_NONE:
        if not gaussian or acc.n_obs != nf or (
            w.stats == STATS_DIAG and acc.n_sq != nf
        ) or (w.stats == STATS_FULL and acc.n_outer != nf * nf):
            raise ValueError(
                "Gaussian statistics need Gaussian emissions and accumulators for n_features"
            )
    return 0


cdef int check_scaled(EmissionArrays em, ScaledArrays scaled) except -1:
    """The scaled table fits the emissions (categorical kernels read it by symbol)."""
    if em is None or scaled is None:
        raise TypeError("emissions and the scaled table are required")
    if scaled.n_components != em.c.n_components or (
        em.c.kind == EMIT_CATEGORICAL and scaled.c.n_symbols != em.c.n_symbols
    ):
        raise ValueError("the scaled table does not match the emissions")
    return 0


cdef Py_ssize_t check_estep_call(
    const Want *w, EmissionArrays em, ScaledArrays scaled, ChainArrays chain,
    Accumulators acc, object seqs, object startidx, Py_ssize_t n_chunks, Py_ssize_t first,
    Py_ssize_t step, Py_ssize_t row0, object log_prob,
) except -1:
    """Everything an E-step driver (``_sequence.estep_chunks``, ``_lanes.estep_lane_chunks``)
    checks before it releases the GIL; returns the length of the longest of ``seqs``."""
    check_sequences(startidx, seqs, em.c.n_samples, log_prob)
    check_work(w, em, scaled, chain, acc)
    if not (0 <= row0 and row0 + n_chunks <= acc.n_rows and 0 <= first and step >= 1) or (
        n_chunks < 1 and seqs.shape[0]
    ):
        raise ValueError("chunks do not fit the accumulator rows")
    if not seqs.shape[0]:
        return 0
    lengths = startidx[seqs + 1] - startidx[seqs]
    return int(lengths.max())
