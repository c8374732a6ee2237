"""The embedding cache: each text is encoded once per encoder configuration.

Grid searches and cross-validation clone estimators and refit them many times;
the texts they encode do not change. Embeddings are kept in process memory,
keyed by the encoder configuration that determines them (model, pooling,
normalisation, template, maximum length, precision), and optionally on disk
(``memory=`` of :class:`~sklearn_zsrec.TextEncoder`) so that worker processes
and later sessions share them.

Disk layout: ``<location>/sklearn_zsrec_embeddings/<key-hash>/`` holds
``key.json`` (the configuration, for humans) and shards ``<hash>.npz`` with the
texts, their embeddings and ``sha256``, a checksum of both. Every file is
written to a temporary file and moved into place, so concurrent writers never
leave a torn file; a failed write removes its temporary file.

The disk is never trusted blindly:

- A shard is used only if it opens, holds a 1-D array of texts and a 2-D
  float32 array of embeddings with one row per text and the dimension of the
  other shards (the model's, which the encoder passes; without it, when
  shards disagree, one text is encoded to settle it), and its checksum
  matches its content. Shards of earlier versions, without a checksum, are
  used if they pass the other checks (the zip format's CRC-32 still catches
  their flipped bits).
- A shard that fails is reported once per file and process in a
  ``UserWarning`` naming it, renamed to ``<name>.npz.damaged`` (kept for
  inspection, ignored by the cache, safe to delete) when the directory lets
  us, and skipped: its texts are encoded again and written to a new shard.
  A shard that cannot be read for lack of permission, or that does not fit
  in the process's memory, is skipped, not renamed.
- Texts are written in shards by length (one per power of two), as a
  shard's array of texts pads each to the longest. A directory deleted
  while the process runs is written again.
- When the directory cannot be created or written (permissions, read-only
  file system, disk full, a path through a regular file), one
  ``UserWarning`` names it and the fix; the embeddings just encoded are
  returned and kept in memory, and no more writes are attempted there until
  :func:`clear_embedding_cache`.
- Texts ending in a NUL character are cached in memory only (numpy's
  strings in a shard drop trailing NULs).
- A directory of more than ``_MAX_SHARDS`` shards (a process serving new
  texts a few at a time writes one per call, and every call lists them)
  merges the smaller half of them into shards by length; the merged shards
  are in place before their sources are deleted, so no text leaves the
  disk, but a process that listed the shards just before may miss a few
  and encode them again (the same vectors, one more shard).
"""

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from collections import namedtuple
from pathlib import Path

import numpy as np

from ._progress import caller_stacklevel
from ._locks import Lock

CacheInfo = namedtuple("CacheInfo", ["hits", "misses", "currsize"])
_KeyState = namedtuple("_KeyState", ["store", "loaded", "on_disk"])

_MAX_SHARDS = 64  # more in a directory: the smaller half is merged (``_compact``)
_LOCK = Lock()
_MEMORY = {}  # key -> {text: vector}
_LOADED_SHARDS = {}  # (key, directory) -> shard names already read
_ON_DISK = {}  # (key, directory) -> texts known to be in a shard there
_STATS = {"hits": 0, "misses": 0}
_UNWRITABLE = set()  # key directories a write failed in: memory only
_WARNED = set()  # files and directories reported in this process


def embedding_cache_info():
    """Return the hits, misses and size of the in-memory embedding cache.

    ``misses`` counts texts that went through a model in this process since
    the last :func:`clear_embedding_cache`; ``hits`` those served from memory
    or disk; ``currsize`` the number of (configuration, text) entries held.

    Returns
    -------
    info : CacheInfo
        A named tuple ``(hits, misses, currsize)``.

    Examples
    --------
    >>> from sklearn_zsrec import clear_embedding_cache, embedding_cache_info
    >>> clear_embedding_cache()
    >>> embedding_cache_info()
    CacheInfo(hits=0, misses=0, currsize=0)
    """
    with _LOCK:
        size = sum(len(v) for v in _MEMORY.values())
        return CacheInfo(_STATS["hits"], _STATS["misses"], size)


def clear_embedding_cache():
    """Empty the in-memory embedding cache and reset its counters.

    Files written to disk through ``memory=`` are left alone; delete the
    directory to remove them. Directories a write failed in are tried again;
    damaged files and unwritable directories already reported are not
    reported again in this process.
    """
    with _LOCK:
        _MEMORY.clear()
        _LOADED_SHARDS.clear()
        _ON_DISK.clear()
        _UNWRITABLE.clear()
        _STATS["hits"] = _STATS["misses"] = 0


def _key_dir(location, key):
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    # "~/cache" is the user's, as for the fine-tuned models (not a folder "~" here)
    return Path(location).expanduser() / "sklearn_zsrec_embeddings" / digest[:32]


class _Unusable(Exception):
    """A shard that must not be used; the message says why."""

    def __init__(self, reason, damaged=True):
        super().__init__(reason)
        self.damaged = damaged


def _warn_once(path, message):
    """Warn about ``path`` once per process."""
    if str(path) not in _WARNED:
        _WARNED.add(str(path))
        warnings.warn(message, UserWarning, stacklevel=caller_stacklevel())


def _checksum(texts, embeddings):
    digest = hashlib.sha256(json.dumps(texts).encode())
    digest.update(np.ascontiguousarray(embeddings, dtype="<f4").tobytes())
    return digest.hexdigest()


def _check_structure(arrays):
    """Raise _Unusable unless ``arrays`` hold texts and one float32 row each."""
    if "texts" not in arrays or "embeddings" not in arrays:
        raise _Unusable(f"it holds the arrays {sorted(arrays)}, not 'texts' and 'embeddings'")
    texts, embeddings = arrays["texts"], arrays["embeddings"]
    if texts.ndim != 1 or texts.dtype.kind != "U":
        raise _Unusable(
            f"its texts are not a 1-D array of strings (dtype {texts.dtype}, "
            f"shape {texts.shape})"
        )
    if embeddings.ndim != 2 or embeddings.dtype != np.float32 or embeddings.shape[1] == 0:
        raise _Unusable(
            "its embeddings are not a 2-D float32 array (dtype "
            f"{embeddings.dtype}, shape {embeddings.shape})"
        )
    if len(texts) != len(embeddings):
        raise _Unusable(f"it holds {len(texts)} texts but {len(embeddings)} embeddings")


def _load_shard(path):
    """The texts and embeddings of a shard; raise _Unusable if it is bad."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise  # moved aside or replaced by another process meanwhile
    except OSError as exc:
        raise _Unusable(f"it cannot be read ({type(exc).__name__}: {exc})", damaged=False)
    except MemoryError as exc:  # intact, too large for this process: not damaged
        raise _Unusable(f"it does not fit in this process's memory ({exc})", damaged=False)
    except Exception as exc:  # BadZipFile, EOFError, ValueError, zlib.error...
        raise _Unusable(f"it is not a valid npz file ({type(exc).__name__}: {exc})")
    _check_structure(arrays)
    texts = arrays["texts"].tolist()
    stored = arrays.get("sha256")
    if stored is not None and (
        stored.shape != () or stored.dtype.kind != "U"
        or stored.item() != _checksum(texts, arrays["embeddings"])
    ):
        raise _Unusable("its checksum does not match its texts and embeddings")
    return texts, arrays["embeddings"]


def _move_aside(path):
    """Rename a damaged shard out of the cache's way; say what happened."""
    aside = path.with_name(path.name + ".damaged")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return "Another process moved it aside."
    except OSError as exc:
        return f"It could not be renamed ({type(exc).__name__}: {exc}); delete it."
    return f"It was renamed to {aside.name}, which the cache ignores; delete it at will."


def _skip_shard(path, problem):
    fate = _move_aside(path) if problem.damaged else "Make it readable, or delete it."
    _warn_once(
        path,
        f"TextEncoder(memory=...): skipped the {'damaged ' if problem.damaged else ''}"
        f"embedding cache shard {path}: {problem}. Its texts are encoded again. "
        f"{fate}",
    )


def _list_shards(directory):
    try:
        return sorted(directory.glob("*.npz"))
    except OSError:  # unreachable: nothing to read; writing will say so
        return []


def _reference_dim(store, found, encode, dim=None):
    """The dimension shards must have: ``dim`` when the caller knows it (the
    model's), else the one in memory, else the shards' own when they agree,
    else that of a fresh encoding of one of their texts."""
    if dim is not None:
        return dim
    if store:
        return len(next(iter(store.values())))
    dims = {embeddings.shape[1] for _, embeddings in found.values()}
    if len(dims) <= 1:
        return dims.pop() if dims else None
    texts, _ = next(iter(found.values()))
    return np.asarray(encode(texts[:1])).shape[1]


def _key_state(key_str, directory):
    """The in-memory vectors of a key, and what is known of its directory."""
    return _KeyState(
        _MEMORY.setdefault(key_str, {}),
        _LOADED_SHARDS.setdefault((key_str, directory), set()),
        _ON_DISK.setdefault((key_str, directory), set()),
    )


def _read_shards(directory, state, encode, dim=None):
    """Load the shards of ``directory`` not read yet; skip the bad ones."""
    found = {}
    for path in _list_shards(directory):
        if path.name in state.loaded:
            continue
        try:
            found[path] = _load_shard(path)
        except FileNotFoundError:
            continue
        except _Unusable as problem:
            _skip_shard(path, problem)
    dim = _reference_dim(state.store, found, encode, dim)
    for path, (texts, embeddings) in found.items():
        if embeddings.shape[1] != dim:
            reason = f"its embeddings have dimension {embeddings.shape[1]}, the model's {dim}"
            _skip_shard(path, _Unusable(reason))
            continue
        for text, vec in zip(texts, embeddings):
            state.store.setdefault(text, vec)
            state.on_disk.add(text)
        state.loaded.add(path.name)


def _forget_other_dims(state, directory, dim):
    """Drop vectors read from disk whose dimension is not the model's ``dim``.

    Every shard agreed on a dimension the model does not give (written by
    another model saved at the same path): their texts are encoded again.
    """
    stale = [t for t, vec in state.store.items() if len(vec) != dim]
    if stale:
        where = "a memory= directory read earlier" if directory is None else directory
        _warn_once(
            where,
            f"TextEncoder(memory=...): the embedding cache {where} holds "
            f"embeddings of dimension {len(state.store[stale[0]])}, but the model "
            f"gives {dim} (written for another model saved at the same path?); "
            "they are ignored and their texts encoded again. Fix: delete that "
            "directory.",
        )
    for text in stale:
        del state.store[text]
    state.on_disk.difference_update(stale)


def _atomic_write(path, write):
    """Call ``write(file)`` on a temporary file, then move it to ``path``.

    On failure the temporary file is removed and the OSError raised.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_shard(directory, key, texts, embeddings, create=True):
    """Write a shard; ``create=False``: only into the directory as it is (a
    directory deleted meanwhile, to forget its texts, is not made again)."""
    if create:
        directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / "key.json"
    if create and not key_file.exists():
        text = json.dumps(key, indent=1, sort_keys=True).encode()
        _atomic_write(key_file, lambda fh: fh.write(text))
    name = hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:32] + ".npz"
    arrays = {
        "texts": np.array(texts, dtype=str),
        "embeddings": embeddings,
        "sha256": np.array(_checksum(list(texts), embeddings)),
    }
    _atomic_write(directory / name, lambda fh: np.savez(fh, **arrays))
    return name


def _write_new(key, directory, location, texts, state):
    """Write the texts not on disk yet; on an OSError, keep to memory.

    One shard per power of two of the texts' lengths: a shard's array of
    texts pads each to the longest (numpy strings), so that one long text
    among thousands of short ones made a shard hundreds of times their size.
    """
    # texts ending in NUL stay in memory: the shard's numpy strings drop
    # trailing NULs, and the text read back would not be the text encoded
    new = [t for t in dict.fromkeys(texts) if t not in state.on_disk and not t.endswith("\0")]
    if not new or directory in _UNWRITABLE:
        return
    try:
        names = _write_by_length(directory, key, new, lambda part: np.stack(
            [state.store[t] for t in part]))
    except (OSError, MemoryError) as exc:
        _UNWRITABLE.add(directory)
        _warn_once(
            directory,
            f"TextEncoder(memory={str(location)!r}): cannot write the embedding "
            f"cache in {directory} ({type(exc).__name__}: {exc}). The embeddings "
            "are returned and kept in memory only, for the rest of this process. "
            "Fix: make that directory writable (e.g. chmod u+w), free disk space, "
            "or pass memory= a writable directory or None.",
        )
        return
    state.loaded.update(names)
    state.on_disk.update(new)
    with contextlib.suppress(OSError, MemoryError):  # merging is an economy: the texts are written
        _compact(directory, key, state)


def _write_by_length(directory, key, texts, vectors, create=True):
    """Shards of ``texts`` by length, one per power of two; ``vectors(part)``
    gives the embeddings of a part. Returns their names."""
    buckets = {}
    for text in texts:
        buckets.setdefault(len(text).bit_length(), []).append(text)
    return [_write_shard(directory, key, part, vectors(part), create)
            for _, part in sorted(buckets.items())]


def _compact(directory, key, state):
    """Merge the smaller half of the shards this process has read or written,
    when ``directory`` holds more than ``_MAX_SHARDS``.

    Sources are deleted only after the merged shards are in place; a source
    another process deleted meanwhile is skipped (its texts are in that
    process's merged shard), and so is one that no longer reads. A
    directory deleted meanwhile is not made again.
    """
    shards = _list_shards(directory)
    if len(shards) <= _MAX_SHARDS:
        return
    sizes = []
    for path in shards:
        with contextlib.suppress(OSError):
            if path.name in state.loaded:  # read and checked, or written, here
                sizes.append((path.stat().st_size, path.name, path))
    merged = {}
    sources = []
    dim = len(next(iter(state.store.values()))) if state.store else None
    for _, _, path in sorted(sizes)[: len(shards) // 2]:
        try:
            texts, embeddings = _load_shard(path)
        except (FileNotFoundError, _Unusable):
            continue
        if dim is not None and embeddings.shape[1] != dim:  # another model's: not ours to merge
            continue
        for text, vector in zip(texts, embeddings):
            merged.setdefault(text, vector)
        sources.append(path)
    if len(sources) < 2:
        return
    names = _write_by_length(directory, key, list(merged),
                             lambda part: np.stack([merged[t] for t in part]), create=False)
    state.loaded.update(names)
    for path in sources:
        if path.name not in names:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def cached_encode(key, texts, encode, location=None, *, count=True, dim=None, check=None):
    """Embeddings of ``texts``, encoding through ``encode`` only the new ones.

    A damaged shard or an unwritable directory never fails the call: it is
    reported in a ``UserWarning`` and the texts are encoded (see the module
    docstring).

    Parameters
    ----------
    key : dict
        JSON-serialisable configuration that determines the embeddings.
    texts : list of str
    encode : callable
        ``encode(list_of_str) -> ndarray (n, dim)`` for texts not cached.
    location : str or path, default=None
        Directory of the on-disk cache, or None for memory only.
    count : bool, default=True
        Add to the hits and misses of :func:`embedding_cache_info`; False
        when ``encode`` hands back embeddings given, not computed by a model
        (``fill_embedding_cache``).
    dim : int, default=None
        The dimension of ``encode``'s vectors when the caller knows it (the
        model's): shards and vectors in memory of another dimension are then
        set aside even when every text is cached. Without it, the first
        encoding tells.
    check : callable, default=None
        ``check(cached_texts, their_embeddings)`` for the texts of ``texts``
        already cached, called before anything is encoded, and for those
        another thread cached meanwhile, before anything is stored: an error
        it raises leaves the cache as it was (``fill_embedding_cache``
        refuses vectors that disagree with the cached ones).
    """
    key_str = json.dumps(key, sort_keys=True)
    directory = None if location is None else _key_dir(location, key)
    with _LOCK:
        state = _key_state(key_str, directory)
        if directory is not None and (state.loaded or state.on_disk) and not directory.is_dir():
            # deleted meanwhile (as a warning's fix says): what it held is to write again
            state.loaded.clear()
            state.on_disk.clear()
        settled = []  # texts encoded to settle a disagreement of the shards

        def settle(some):
            settled.append(len(some))
            return encode(some)

        if directory is not None:
            _read_shards(directory, state, settle, dim)
        if dim is not None:
            _forget_other_dims(state, directory, dim)
        unique = dict.fromkeys(texts)
        missing = [t for t in unique if t not in state.store]
        known = [t for t in unique if t in state.store] if check else []
        known_vectors = [state.store[t] for t in known]
    if known:
        check(known, np.stack(known_vectors))
    n_encoded = 0
    while missing:  # twice at most: when the disk held another dimension
        vectors = np.asarray(encode(missing), dtype=np.float32)
        n_encoded += len(missing)
        with _LOCK:
            _forget_other_dims(state, directory, vectors.shape[1])
            raced = [t for t in missing if t in state.store]  # cached meanwhile by another thread
            if check and raced:
                check(raced, np.stack([state.store[t] for t in raced]))
            for text, vector in zip(missing, vectors):
                # the first vector stored for a text stays (another thread may
                # have encoded it meanwhile, batched with other texts: float32
                # vectors differ in the last bits): each text one vector
                state.store.setdefault(text, vector)
            missing = list(dict.fromkeys(t for t in texts if t not in state.store))
    with _LOCK:
        if directory is not None:
            # texts encoded earlier in memory only are written out too
            _write_new(key, directory, location, texts, state)
        if count:  # the texts that went through the model, settling ones included
            _STATS["misses"] += n_encoded + sum(settled)
            _STATS["hits"] += len(texts) - n_encoded
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([state.store[t] for t in texts])
