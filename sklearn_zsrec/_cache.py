"""The embedding cache: each text is encoded once per encoder configuration.

Grid searches and cross-validation clone estimators and refit them many times;
the texts they encode do not change. Embeddings are kept in process memory,
keyed by the encoder configuration that determines them (model, pooling,
normalisation, template, maximum length, precision), and optionally on disk
(``memory=`` of :class:`~sklearn_zsrec.TextEncoder`) so that worker processes
and later sessions share them.

Disk layout: ``<location>/sklearn_zsrec_embeddings/<key-hash>/`` holds
``key.json`` (the configuration, for humans) and shards ``<hash>.npz`` with the
texts and their embeddings. A shard is written to a temporary file and moved
into place, so concurrent writers never leave a torn file.
"""

import hashlib
import json
import os
import tempfile
import threading
from collections import namedtuple
from pathlib import Path

import numpy as np

CacheInfo = namedtuple("CacheInfo", ["hits", "misses", "currsize"])

_LOCK = threading.Lock()
_MEMORY = {}  # key -> {text: vector}
_LOADED_SHARDS = {}  # (key, directory) -> shard names already read
_ON_DISK = {}  # (key, directory) -> texts known to be in a shard there
_STATS = {"hits": 0, "misses": 0}


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
    directory to remove them.
    """
    with _LOCK:
        _MEMORY.clear()
        _LOADED_SHARDS.clear()
        _ON_DISK.clear()
        _STATS["hits"] = _STATS["misses"] = 0


def _key_dir(location, key):
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return Path(location) / "sklearn_zsrec_embeddings" / digest[:32]


def _read_shards(directory, key_str):
    store = _MEMORY.setdefault(key_str, {})
    loaded = _LOADED_SHARDS.setdefault((key_str, directory), set())
    on_disk = _ON_DISK.setdefault((key_str, directory), set())
    if not directory.is_dir():
        return
    for shard in sorted(directory.glob("*.npz")):
        if shard.name in loaded:
            continue
        with np.load(shard, allow_pickle=False) as data:
            for text, vec in zip(data["texts"].tolist(), data["embeddings"]):
                store.setdefault(text, vec)
                on_disk.add(text)
        loaded.add(shard.name)


def _write_shard(directory, key, texts, embeddings):
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / "key.json"
    if not key_file.exists():
        key_file.write_text(json.dumps(key, indent=1, sort_keys=True))
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:32]
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        np.savez(fh, texts=np.array(texts, dtype=str), embeddings=embeddings)
    os.replace(tmp, directory / f"{digest}.npz")
    return f"{digest}.npz"


def cached_encode(key, texts, encode, location=None):
    """Embeddings of ``texts``, encoding through ``encode`` only the new ones.

    Parameters
    ----------
    key : dict
        JSON-serialisable configuration that determines the embeddings.
    texts : list of str
    encode : callable
        ``encode(list_of_str) -> ndarray (n, dim)`` for texts not cached.
    location : str or path, default=None
        Directory of the on-disk cache, or None for memory only.
    """
    key_str = json.dumps(key, sort_keys=True)
    directory = None if location is None else _key_dir(location, key)
    with _LOCK:
        store = _MEMORY.setdefault(key_str, {})
        missing = list(dict.fromkeys(t for t in texts if t not in store))
        if directory is not None:
            _read_shards(directory, key_str)
            missing = [t for t in missing if t not in store]
    if missing:
        vectors = np.asarray(encode(missing), dtype=np.float32)
        with _LOCK:
            for text, vec in zip(missing, vectors):
                store[text] = vec
    with _LOCK:
        if directory is not None:
            # texts encoded earlier in memory only are written out too
            on_disk = _ON_DISK[(key_str, directory)]
            new = [t for t in dict.fromkeys(texts) if t not in on_disk]
            if new:
                vectors = np.stack([store[t] for t in new])
                shard = _write_shard(directory, key, new, vectors)
                _LOADED_SHARDS[(key_str, directory)].add(shard)
                on_disk.update(new)
        _STATS["misses"] += len(missing)
        _STATS["hits"] += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([store[t] for t in texts])
