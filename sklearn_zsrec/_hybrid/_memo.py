"""The fit memo: fitted members reused while the same data and parameters come back.

The candidates of a grid over the blend's own parameters (``C``,
``switch``, ...) refit the same members on the same rows: each member is
fitted once per split and shared, its arrays read-only. In process memory,
at most ``_FIT_MEMO_SIZE`` entries of each kind (the first element of a
key) and ``_FIT_MEMO_BYTES`` of arrays in all, least recently used dropped
first; ``sklearn_zsrec.clear_cache`` empties it.
"""

import copy
import os
import sys
from collections import OrderedDict
from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._locks import Lock

_FIT_MEMO = OrderedDict()
# entries per kind: GridSearchCV runs every split of a candidate before the
# next one, so a 5-fold search (scikit-learn's default) of the learned blend
# (a holdout fit and a final fit per split, and a second holdout fit where
# the first gives no blend) reuses its fits with 15; with 4 it refitted
# every member for every candidate, with 10 it did once a split fitted a
# second holdout
_FIT_MEMO_SIZE = 15
_FIT_MEMO_BYTES = 1 << 30  # and at most this much of arrays in all (shared ones counted each time)
_SIZES = {}  # key -> its arrays' bytes
_FIT_MEMO_LOCK = Lock()


def memo_key(estimator, data_hash):
    """A key for a fit of ``estimator`` on some data, or None if it must not be reused.

    A fit is reused only when it is reproducible: an estimator whose
    ``random_state`` (or a nested one) is None or a RandomState instance
    draws anew each time. Nested estimators count by class (their
    parameters are among the deep ones) and by the class object itself (a
    class defined again, e.g. a notebook cell run again after a fix, is
    another class); a ``model`` parameter naming a local directory (a
    ``TextEncoder``'s) by its files (``model_files_stamp``: a model retrained
    in place is another model), and any parameter naming a file by its size
    and modification time (a member of one's own reading side data by path
    in ``fit`` was served its fit from before the file changed; a directory
    other than a ``model``, such as an encoder's ``memory`` cache that fits
    write to, counts by its path). A parameter that is a class counts by the
    object itself, held by the key (so that its id stays its own): it was
    hashed as ``type``, so another class (deep parameters do not expand a
    class) was served the first one's fit; so does one inside a list, a
    tuple or a dict. A function, there too, means no reuse: it
    is pickled by name, so one defined again with other code was served the
    first one's fit, and the same function object may read globals that
    changed. A parameter that cannot be hashed (pickled; a Spark session
    raises its own error) means no reuse.
    """
    import joblib

    from .._model_files import model_files_stamp

    held = []  # the classes among the parameters, by identity

    def name(value):
        kind = type(value)
        return f"{kind.__module__}.{kind.__qualname__}", id(kind)

    def identity(value):
        held.append(value)
        return "by identity", value.__qualname__, id(value)

    def files(key, value):
        path = os.fspath(value)
        if key.split("__")[-1] == "model" and os.path.isdir(path):
            return value, model_files_stamp(path)
        try:  # a file a member reads in fit (side data by path): by its size and time
            found = os.stat(path) if os.path.isfile(path) else None
        except (OSError, ValueError):  # gone since, or not a path (a null byte)
            found = None
        return value if found is None else (value, found.st_size, found.st_mtime_ns)

    class Unhashable(Exception):
        pass

    def describe(value):
        # joblib.hash sorts a dict's keys, but a member of one's own may read a
        # dict in its order (the package's text catalog no longer does: it is
        # sorted): hashed as item pairs. Lists, tuples and dicts are walked, so
        # that a class or a function inside one counts as at the top
        if isinstance(value, type):
            return identity(value)
        if hasattr(value, "get_params"):
            return name(value)  # at the top its parameters are among the deep ones
        if callable(value):
            raise Unhashable
        if isinstance(value, dict):
            return dict, [(inner(k), inner(v)) for k, v in value.items()]
        if isinstance(value, (list, tuple)):
            return type(value), [inner(item) for item in value]
        return value

    def inner(value):
        # an estimator inside a list or a dict: get_params(deep=True) does not
        # expand it, so its own parameters count here
        if hasattr(value, "get_params") and not isinstance(value, type):
            nested = value.get_params(deep=False)
            if "random_state" in nested and not isinstance(nested["random_state"], Integral):
                raise Unhashable  # it draws anew each time, as at the top
            return name(value), sorted((k, inner(v)) for k, v in nested.items())
        return describe(value)

    params = estimator.get_params(deep=True)
    if any(key.split("__")[-1] == "random_state" and not isinstance(value, Integral)
           for key, value in params.items()):
        return None
    try:
        described = {key: files(key, value) if isinstance(value, (str, os.PathLike))
                     else describe(value) for key, value in params.items()}
    except Unhashable:  # a function, at the top or nested; a nested unseeded estimator
        return None
    try:
        return name(estimator), joblib.hash(described), data_hash, tuple(held)
    except Exception:  # noqa: BLE001 - whatever cannot be pickled: no reuse, never an error
        return None


def memoized(key, build, shared=False, usable=None):
    """``build()``, or the result of an earlier call with the same key.

    A copy of it, or with ``shared`` (a value nobody modifies) the same
    value, its arrays made read-only (``read_only``) so that a change
    would raise. ``usable(value)`` False: the entry is built again (a
    fitted model whose files were deleted since).
    """
    if key is None:
        return build()
    with _FIT_MEMO_LOCK:
        if key in _FIT_MEMO and usable is not None and not usable(_FIT_MEMO[key]):
            _drop(key)
        if key in _FIT_MEMO:
            _FIT_MEMO.move_to_end(key)
            return _FIT_MEMO[key] if shared else copy.deepcopy(_FIT_MEMO[key])
    value = build()
    size = array_bytes(value)
    if size > _FIT_MEMO_BYTES:  # larger than the bound alone: served, not kept
        return value
    if shared:
        read_only(value)
    with _FIT_MEMO_LOCK:
        _FIT_MEMO[key] = value if shared else copy.deepcopy(value)
        _SIZES[key] = size
        same_kind = [k for k in _FIT_MEMO if k[0] == key[0]]
        for old in same_kind[: max(len(same_kind) - _FIT_MEMO_SIZE, 0)]:  # least recent first
            _drop(old)
        while _FIT_MEMO and sum(_SIZES.values()) > _FIT_MEMO_BYTES:
            _drop(next(iter(_FIT_MEMO)))
    return value


def _drop(key):
    del _FIT_MEMO[key]
    _SIZES.pop(key, None)


def array_bytes(value, seen=None):
    """The bytes of the arrays and pandas objects ``value`` holds, each counted once.

    As ``read_only`` walks it; a Series or DataFrame (a text model's texts)
    counts its contents (``memory_usage(deep=True)``: the strings too).
    """
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return value.nbytes
    if sp.issparse(value):
        return sum(array_bytes(a, seen) for a in (value.data, value.indices, value.indptr))
    if isinstance(value, (pd.Series, pd.Index, pd.DataFrame)):
        return _deep_bytes(value)
    if isinstance(value, (dict, tuple, list)):
        return sum(array_bytes(item, seen)
                   for item in (value.values() if isinstance(value, dict) else value))
    if hasattr(value, "get_params"):
        return sum(array_bytes(item, seen) for item in vars(value).values())
    return 0


def _deep_bytes(value):
    """A pandas object's ``memory_usage(deep=True)``, strings and other objects counted."""
    try:
        return int(np.sum(value.memory_usage(deep=True)))
    except ValueError:  # pandas 2 on a read-only object array: "buffer source array is read-only"
        parts = ([value] if isinstance(value, pd.Index)
                 else [value.index, *(column for _, column in value.items())]
                 if isinstance(value, pd.DataFrame) else [value.index, value])
        return sum(_object_bytes(np.asarray(part)) for part in parts)


def _object_bytes(values):
    """``values.nbytes``, plus each element's size for an object array (as pandas counts)."""
    extra = sum(sys.getsizeof(v) for v in values.ravel()) if values.dtype == object else 0
    return values.nbytes + extra


def clear():
    """Empty the memo."""
    with _FIT_MEMO_LOCK:
        _FIT_MEMO.clear()
        _SIZES.clear()


def read_only(value):
    """Mark the arrays of ``value`` read-only: an array, a sparse matrix, an
    estimator's array attributes, or those of a dict's values or a tuple.

    Memoized results are shared between fits: an in-place change would
    leak into every later fit, so it must raise instead.
    """
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif sp.issparse(value):
        for array in (value.data, value.indices, value.indptr):
            array.flags.writeable = False
    elif isinstance(value, (dict, tuple)):
        for item in value.values() if isinstance(value, dict) else value:
            read_only(item)
    elif hasattr(value, "get_params"):
        for name, attribute in vars(value).items():
            # user_items_ is the matrix shared by every model fitted on the
            # same rows (``Interactions.matrix``): implicit's fits take it as
            # a writable buffer, and nothing writes to it
            if name != "user_items_" and (isinstance(attribute, np.ndarray)
                                          or sp.issparse(attribute)):
                read_only(attribute)
    return value


def own_copy(model):
    """A shallow copy of a fitted member whose non-array attributes are its own.

    The arrays (read-only, shared through the memo) stay shared; the rest
    (a fitted encoder, texts, parameters) is copied, so that changing one
    hybrid's member changes no other hybrid. A value that cannot be copied
    (a Spark session) stays shared, as ``clone`` shares it.
    """
    out = object.__new__(type(model))  # attribute by attribute, not through __getstate__
    out.__dict__.update({name: value if _arrays(value) else _copy(value)
                         for name, value in vars(model).items()})
    return out


def _arrays(value):
    """Whether ``value`` is an array, or a tuple of arrays (and None): shared.

    A tuple of them is a cache derived from the arrays (item-kNN's dense
    copy of its matrix): copied, it would be rebuilt by every hybrid.
    """
    if isinstance(value, tuple):
        return bool(value) and all(v is None or _arrays(v) for v in value)
    return isinstance(value, np.ndarray) or sp.issparse(value)


def _copy(value):
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - a session or a lock: shared
        return value
