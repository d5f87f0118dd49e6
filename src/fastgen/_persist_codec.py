"""Tagged JSON + ``.npy`` members: the encoding of parameters and fitted state.

Plain JSON values stand for themselves; anything else is an object with a
``"$type"`` key: ``tuple``, ``set``, ``frozenset``, ``dict`` (item pairs), ``float``
(NaN/inf), ``bytes``, ``ndarray``/``npscalar``/``object_ndarray`` (a ``.npy``
member), ``strings`` (one UTF-8 text member plus code-point offsets, exact for any
``str``), ``str_int_dict`` (vocabularies), ``dtype``, ``RandomState``,
``ConvergenceMonitor`` and ``estimator`` (a nested whitelisted estimator).  The
decoder rebuilds exactly these and nothing else: it never imports or calls
anything named by the file.
"""

from __future__ import annotations

import base64
import math
import re
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from ._modelfile import ModelFileError
from ._persist_specs import NEURAL_KINDS, SPECS, spec_for, validate_params

__all__ = ["Decoder", "Encoder", "referenced_members", "unknown_kind"]

#: list/tuple/set of more str than this go to array members instead of JSON
_INLINE_STRINGS = 256


def _tag(type_name: str, **fields: Any) -> dict:
    return {"$type": type_name, **fields}


class Encoder:
    """Turns parameters and fitted state into tagged JSON plus ``.npy`` members."""

    def __init__(self) -> None:
        self.members: dict[str, np.ndarray] = {}

    def _member(self, where: str, array: np.ndarray) -> str:
        name = f"{where}.npy"
        if name in self.members:  # pragma: no cover - paths are unique by construction
            raise RuntimeError(f"duplicate member {name}")
        self.members[name] = array
        return name

    def estimator(self, est: Any, where: str) -> dict:
        kind, spec = spec_for(est)
        if spec is None:
            raise ValueError(_not_saveable(est))
        cls_name = type(est).__name__
        params = est.get_params(deep=False)
        enc_params = {
            k: self.value(v, f"{where}params.{k}", f"{cls_name} parameter {k!r}")
            for k, v in sorted(params.items())
        }
        state = vars(est)
        unknown = [a for a in state if a not in params and a not in spec.state
                   and a not in spec.transient and not a.startswith("_")]
        if unknown:
            raise ValueError(
                f"cannot save {cls_name}: attribute(s) {sorted(unknown)} are not part of its "
                "model-file format (set by hand, or a newer fastgen feature not supported by "
                "save yet)"
            )
        present = [a for a in spec.state if a in state]
        missing = [a for a in spec.required if a not in state]
        if present and missing and any(a in state for a in spec.required):
            raise ValueError(
                f"cannot save {cls_name}: its fitted state is incomplete (missing "
                f"{missing}); fit it again"
            )
        enc_state = {}
        for attr in present:
            value = state[attr]
            if attr in spec.coerce:
                value = spec.coerce[attr](value)
            enc_state[attr] = self.value(value, f"{where}state.{attr}",
                                         f"{cls_name} attribute {attr!r}")
        return {"kind": kind, "params": enc_params, "state": enc_state}

    def value(self, v: Any, where: str, what: str) -> Any:
        t = type(v)
        if v is None or t is bool or t is str or t is int:
            return v
        if t is float:
            return v if math.isfinite(v) else _tag("float", value=repr(v))
        if t is list or t is tuple:
            if len(v) > _INLINE_STRINGS and all(type(x) is str for x in v):
                return self._strings(v, where, t.__name__)
            items = [self.value(x, f"{where}.{i}", f"{what}[{i}]") for i, x in enumerate(v)]
            return items if t is list else _tag("tuple", items=items)
        if t is set or t is frozenset:
            try:
                ordered = sorted(v)
            except TypeError:
                ordered = list(v)
            if len(v) > _INLINE_STRINGS and all(type(x) is str for x in v):
                return self._strings(ordered, where, t.__name__)
            return _tag(t.__name__, items=[
                self.value(x, f"{where}.{i}", f"{what} item {x!r}") for i, x in enumerate(ordered)
            ])
        if t is bytes:
            return _tag("bytes", base64=base64.b64encode(v).decode("ascii"))
        if t is dict or _is_vocabulary(v):
            return self._dict(v, where, what)
        if t is np.ndarray:
            return self._array(v, where, what)
        if isinstance(v, np.generic):
            if v.dtype.hasobject or v.dtype.kind == "V":
                raise ValueError(f"cannot save {what}: numpy {v.dtype} scalars hold no plain data")
            return _tag("npscalar", member=self._member(where, np.asarray(v)))
        if isinstance(v, type) and issubclass(v, np.generic):
            return _tag("dtype", form="type", str=self._dtype_str(np.dtype(v), what))
        if isinstance(v, type) and v in (bool, int, float, complex, str, bytes):
            return _tag("dtype", form="builtin", name=v.__name__)
        if t is np.dtype or isinstance(v, np.dtype):
            return _tag("dtype", form="dtype", str=self._dtype_str(v, what))
        if t is np.random.RandomState:
            name, keys, pos, has_gauss, cached = v.get_state()
            return _tag("RandomState", algorithm=name, pos=int(pos), has_gauss=int(has_gauss),
                        cached_gaussian=self.value(float(cached), where, what),
                        keys=self._member(f"{where}.keys", np.asarray(keys)))
        if t.__name__ == "ConvergenceMonitor" and t.__module__ == "fastgen.hmm":
            return _tag("ConvergenceMonitor", tol=self.value(v.tol, f"{where}.tol", what),
                        n_iter=self.value(v.n_iter, f"{where}.n_iter", what),
                        verbose=self.value(v.verbose, f"{where}.verbose", what),
                        iter=self.value(v.iter, f"{where}.iter", what),
                        history=_tag("float64_list", member=self._member(
                            f"{where}.history", np.asarray(list(v.history), dtype=np.float64))))
        if spec_for(v)[1] is not None:
            return _tag("estimator", **self.estimator(v, f"{where}."))
        if hasattr(v, "get_params") and not isinstance(v, type):
            raise ValueError(f"cannot save {what}: {_not_saveable(v)}")
        if callable(v):
            raise ValueError(
                f"cannot save {what}: it is a callable ({v!r}); model files hold data only. "
                "Use the built-in options instead (e.g. token_pattern rather than a "
                "tokenizer), or re-create the estimator after loading"
            )
        raise ValueError(
            f"cannot save {what}: a {t.__module__}.{t.__qualname__} is not plain data "
            "(model files hold None/bool/int/float/str, lists, tuples, sets, dicts, numpy "
            "arrays/scalars/dtypes and fastgen estimators)"
        )

    @staticmethod
    def _dtype_str(dtype: np.dtype, what: str) -> str:
        if dtype.hasobject or dtype.fields is not None or dtype.kind == "V":
            raise ValueError(f"cannot save {what}: dtype {dtype} is not a plain dtype")
        return dtype.str

    def _dict(self, d: dict, where: str, what: str) -> dict:
        cls = "vocabulary" if _is_vocabulary(d) else "dict"
        if d and all(type(k) is str for k in d) and all(
            isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))
            for i in d.values()
        ):
            try:
                values = np.fromiter(d.values(), dtype=np.int64, count=len(d))
            except OverflowError:
                values = None
            if values is not None:
                return _tag("str_int_dict", cls=cls, keys=self._strings(list(d), f"{where}.keys",
                                                                        "list"),
                            values=self._member(f"{where}.values", values))
        if cls == "vocabulary":
            raise ValueError(f"cannot save {what}: only vocabularies of str terms mapped to "
                             "int columns can be saved")
        return _tag("dict", items=[
            [self.value(k, f"{where}.{i}k", f"{what} key {k!r}"),
             self.value(x, f"{where}.{i}v", f"{what}[{k!r}]")]
            for i, (k, x) in enumerate(d.items())
        ])

    def _strings(self, items: list, where: str, container: str,
                 shape: tuple | None = None) -> dict:
        """Many str as one UTF-8 text member plus int64 code-point offsets (exact)."""
        lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
        offsets = np.zeros(len(items) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        text = "".join(items).encode("utf-8", "surrogatepass")
        out = _tag("strings", container=container,
                   text=self._member(f"{where}.text", np.frombuffer(text, dtype=np.uint8)),
                   offsets=self._member(f"{where}.offsets", offsets))
        if shape is not None:
            out["shape"] = list(shape)
        return out

    def _array(self, a: np.ndarray, where: str, what: str) -> dict:
        if not a.dtype.hasobject:
            self._dtype_str(a.dtype, what)
            return _tag("ndarray", member=self._member(where, a))
        flat = a.ravel().tolist()
        types = {type(x) for x in flat}
        if types <= {str}:
            return self._strings(flat, where, "ndarray", a.shape)
        for py_type, dtype in ((bool, np.bool_), (int, np.int64), (float, np.float64)):
            if types == {py_type}:
                try:
                    data = np.array(flat, dtype=dtype).reshape(a.shape)
                except OverflowError:
                    break
                return _tag("object_ndarray", member=self._member(where, data))
        raise ValueError(
            f"cannot save {what}: an object array holding {sorted(t.__name__ for t in types)} "
            "values; only object arrays of str (or of one of bool/int/float) can be saved "
            "without pickling -- convert the labels to one type"
        )


def _is_vocabulary(obj: Any) -> bool:
    module = sys.modules.get("fastgen.text._count")
    return module is not None and type(obj) is module._Vocabulary


def _not_saveable(obj: Any) -> str:
    cls = type(obj)
    return (
        f"{cls.__module__}.{cls.__qualname__} is not a fastgen estimator that model files "
        "support (fastgen vectorizers, Naive Bayes classifiers, TextClassifier, HMMs, "
        "Autoencoder/VAE, and scikit-learn Pipelines of these)"
    )


# --------------------------------------------------------------------------- decoding


class Decoder:
    """Rebuilds values from tagged JSON, taking arrays from the verified members."""

    def __init__(self, members: dict[str, Any], path: str, trusted: bool = False) -> None:
        self.members = members
        self.used: set[str] = set()
        self.path = path
        self.trusted = trusted

    def error(self, message: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: {message}")

    def member(self, name: Any) -> np.ndarray:
        if type(name) is not str or name not in self.members:
            raise self.error(f"manifest refers to a missing member {name!r}")
        if name in self.used:
            raise self.error(f"member {name!r} is referenced twice")
        self.used.add(name)
        value = self.members[name]
        if type(value) is not np.ndarray:
            raise self.error(f"member {name!r} is not an array")
        return value

    def estimator(self, enc: Any, where: str) -> Any:
        if type(enc) is not dict:
            raise self.error(f"{where or 'model'}: malformed estimator entry")
        kind = enc.get("kind")
        spec = SPECS.get(kind) if type(kind) is str else None
        if spec is None:
            raise self.error(unknown_kind(kind))
        cls = spec.load_class()
        params, state = enc.get("params"), enc.get("state")
        if type(params) is not dict or type(state) is not dict:
            raise self.error(f"{where or 'model'}: malformed params/state")
        names = set(_param_names(cls))
        if kind == "sklearn.Pipeline":
            # a parameter of a newer scikit-learn left at its default (None) is dropped
            params = {k: v for k, v in params.items() if k in names or v is not None}
        unknown = sorted(set(params) - names)
        if unknown:
            raise self.error(f"{kind} has no parameter(s) {unknown}")
        est = cls(**{k: self.value(v, f"{where}params.{k}") for k, v in params.items()})
        if not self.trusted and spec.host_access is not None:
            reasons = spec.host_access(est)
            if reasons:
                raise self.error(
                    f"{kind}: {'; '.join(reasons)}. Refused for a model file from an "
                    "unknown source; load it with trusted=True (command line: --trusted) "
                    "if you trust where it came from"
                )
        try:
            validate_params(est)
        except (ValueError, TypeError, LookupError, re.error) as exc:
            raise self.error(f"invalid {kind} parameters ({exc})") from exc
        bad = sorted(set(state) - set(spec.state))
        if bad:
            raise self.error(f"{kind} has no fitted attribute(s) {bad}")
        missing = [a for a in spec.required if a not in state]
        if state and missing and len(missing) < len(spec.required):
            raise self.error(f"{kind}: fitted state is incomplete (missing {missing})")
        for attr, value in state.items():
            vars(est)[attr] = self.value(value, f"{where}state.{attr}")
        if spec.check is not None and (state or spec.name == "Pipeline"):
            try:
                spec.check(est)
            except (ValueError, TypeError, IndexError, KeyError, AttributeError,
                    np.linalg.LinAlgError) as exc:
                raise self.error(f"inconsistent {kind} model ({exc})") from exc
        return est

    def value(self, enc: Any, where: str) -> Any:
        t = type(enc)
        if enc is None or t in (bool, str, int, float):
            return enc
        if t is list:
            return [self.value(x, where) for x in enc]
        if t is not dict:
            raise self.error(f"{where}: malformed value")
        kind = enc.get("$type")
        decode = _DECODERS.get(kind) if type(kind) is str else None
        if decode is None:
            raise self.error(f"{where}: unknown value type {kind!r}")
        return decode(self, enc, where)

    # ---- tagged values
    def _float(self, enc: dict, where: str) -> float:
        if enc["value"] not in ("nan", "inf", "-inf"):
            raise self.error(f"{where}: malformed float")
        return float(enc["value"])

    def _items(self, enc: dict, where: str) -> list:
        items = enc["items"]
        if type(items) is not list:
            raise self.error(f"{where}: malformed items")
        return [self.value(x, where) for x in items]

    def _tuple(self, enc: dict, where: str) -> tuple:
        return tuple(self._items(enc, where))

    def _set(self, enc: dict, where: str) -> set:
        return set(self._items(enc, where))

    def _frozenset(self, enc: dict, where: str) -> frozenset:
        return frozenset(self._items(enc, where))

    def _bytes(self, enc: dict, where: str) -> bytes:
        try:
            return base64.b64decode(enc["base64"], validate=True)
        except (ValueError, TypeError) as exc:
            raise self.error(f"{where}: malformed bytes") from exc

    def _dict(self, enc: dict, where: str) -> dict:
        out = {}
        for pair in enc["items"]:
            if type(pair) is not list or len(pair) != 2:
                raise self.error(f"{where}: malformed dict item")
            out[self.value(pair[0], where)] = self.value(pair[1], where)
        return out

    def _str_int_dict(self, enc: dict, where: str) -> dict:
        keys = self.value(enc["keys"], where)
        values = self.member(enc["values"])
        if type(keys) is not list or values.dtype != np.int64 or values.shape != (len(keys),):
            raise self.error(f"{where}: mapping keys and values do not match")
        if enc["cls"] == "vocabulary":
            from .text._count import _Vocabulary

            out: dict = _Vocabulary(zip(keys, values.tolist(), strict=True))
        elif enc["cls"] == "dict":
            out = dict(zip(keys, values.tolist(), strict=True))
        else:
            raise self.error(f"{where}: unknown mapping class {enc['cls']!r}")
        if len(out) != len(keys):
            raise self.error(f"{where}: duplicate keys in mapping")
        return out

    def _strings(self, enc: dict, where: str) -> Any:
        raw, offsets = self.member(enc["text"]), self.member(enc["offsets"])
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise self.error(f"{where}: malformed text member")
        try:
            text = raw.tobytes().decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as exc:
            raise self.error(f"{where}: text member is not UTF-8") from exc
        if (offsets.dtype != np.int64 or offsets.ndim != 1 or offsets.size == 0
                or offsets[0] != 0 or offsets[-1] != len(text)
                or np.any(np.diff(offsets) < 0)):
            raise self.error(f"{where}: malformed string offsets")
        bounds = offsets.tolist()
        items = [text[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        container = enc["container"]
        if container == "ndarray":
            shape = enc["shape"]
            if (type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape)
                    or math.prod(shape) != len(items)):
                raise self.error(f"{where}: malformed array shape")
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(shape)
        types = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}
        if container not in types:
            raise self.error(f"{where}: unknown container {container!r}")
        return types[container](items)

    def _ndarray(self, enc: dict, where: str) -> np.ndarray:
        return self.member(enc["member"])

    def _object_ndarray(self, enc: dict, where: str) -> np.ndarray:
        data = self.member(enc["member"])
        if data.dtype not in (np.bool_, np.int64, np.float64):
            raise self.error(f"{where}: malformed object array")
        return data.astype(object)

    def _npscalar(self, enc: dict, where: str) -> np.generic:
        data = self.member(enc["member"])
        if data.ndim != 0:
            raise self.error(f"{where}: a scalar member must be 0-d")
        return data[()]

    def _dtype(self, enc: dict, where: str) -> Any:
        form = enc["form"]
        if form == "builtin":
            builtins = {c.__name__: c for c in (bool, int, float, complex, str, bytes)}
            if enc["name"] not in builtins:
                raise self.error(f"{where}: unknown builtin type {enc['name']!r}")
            return builtins[enc["name"]]
        spec = enc["str"]
        if type(spec) is not str or len(spec) > 16 or not spec.isprintable():
            raise self.error(f"{where}: malformed dtype")
        try:
            dtype = np.dtype(spec)
        except TypeError as exc:
            raise self.error(f"{where}: malformed dtype {spec!r}") from exc
        if dtype.hasobject or dtype.fields is not None:
            raise self.error(f"{where}: dtype {spec!r} is not a plain dtype")
        if form == "type":
            return dtype.type
        if form == "dtype":
            return dtype
        raise self.error(f"{where}: unknown dtype form {form!r}")

    def _random_state(self, enc: dict, where: str) -> np.random.RandomState:
        keys = self.member(enc["keys"])
        fields = (enc["algorithm"], enc["pos"], enc["has_gauss"])
        if (keys.dtype != np.uint32 or keys.shape != (624,) or fields[0] != "MT19937"
                or type(fields[1]) is not int or not 0 <= fields[1] <= 624
                or fields[2] not in (0, 1)):
            raise self.error(f"{where}: malformed RandomState")
        cached = self.value(enc["cached_gaussian"], where)
        if type(cached) is not float:
            raise self.error(f"{where}: malformed RandomState")
        rs = np.random.RandomState()
        rs.set_state(("MT19937", keys, fields[1], fields[2], cached))
        return rs

    def _monitor(self, enc: dict, where: str) -> Any:
        from .hmm import ConvergenceMonitor

        history = self.member(enc["history"]["member"])
        it = self.value(enc["iter"], where)
        if history.dtype != np.float64 or history.ndim != 1 or type(it) is not int or it < 0:
            raise self.error(f"{where}: malformed convergence monitor")
        mon = ConvergenceMonitor(self.value(enc["tol"], where), self.value(enc["n_iter"], where),
                                 self.value(enc["verbose"], where))
        mon.history = deque(history.tolist())
        mon.iter = it
        return mon

    def _estimator(self, enc: dict, where: str) -> Any:
        return self.estimator(enc, f"{where}.")


_DECODERS: dict[str, Callable[[Decoder, dict, str], Any]] = {
    "float": Decoder._float,
    "tuple": Decoder._tuple,
    "set": Decoder._set,
    "frozenset": Decoder._frozenset,
    "bytes": Decoder._bytes,
    "dict": Decoder._dict,
    "str_int_dict": Decoder._str_int_dict,
    "strings": Decoder._strings,
    "ndarray": Decoder._ndarray,
    "object_ndarray": Decoder._object_ndarray,
    "npscalar": Decoder._npscalar,
    "dtype": Decoder._dtype,
    "RandomState": Decoder._random_state,
    "ConvergenceMonitor": Decoder._monitor,
    "estimator": Decoder._estimator,
}


#: tagged value type -> its fields that name a member
_MEMBER_FIELDS = {
    "ndarray": ("member",),
    "npscalar": ("member",),
    "object_ndarray": ("member",),
    "float64_list": ("member",),
    "strings": ("text", "offsets"),
    "str_int_dict": ("values",),
    "RandomState": ("keys",),
}


def referenced_members(enc: Any) -> list[str]:
    """Every member name the tagged JSON ``enc`` refers to (duplicates kept).

    Run on a manifest before any member is read, so that a file holding members
    its manifest never uses is refused without decompressing them.
    """
    found: list[str] = []
    stack = [enc]
    while stack:
        item = stack.pop()
        if type(item) is list:
            stack.extend(item)
        elif type(item) is dict:
            tag = item.get("$type")
            fields = _MEMBER_FIELDS.get(tag, ()) if type(tag) is str else ()
            for key, value in item.items():
                if key in fields and type(value) is str:
                    found.append(value)
                else:
                    stack.append(value)
    return found


def _param_names(cls: type) -> list[str]:
    getter = getattr(cls, "_get_param_names", None)
    if getter is None:  # pragma: no cover - every whitelisted class has it
        return []
    return list(getter())


def unknown_kind(kind: Any) -> str:
    shown = repr(kind) if type(kind) is str and len(kind) <= 200 else "(malformed)"
    known = ", ".join([*SPECS, *NEURAL_KINDS])
    return f"unknown model kind {shown}; this fastgen reads: {known}"

