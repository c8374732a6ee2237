"""The hybrid's fit against its members' own fits, both from scratch.

Issue 14's fit target: the hybrid's ``fit`` at most 1.5x the sum of its
members' own fits plus encoding. Each side starts from empty caches
(``clear_cache()``), as a user's first fit does:

- the hybrid's fit: everything it does, the text encoding included (the
  item texts for its text model, the known users' texts for new users);
- its members' side: the text model's own fit (which encodes the item
  texts), each collaborative member's own fit, and the encoding of the same
  users' texts (which only the hybrid needs), on the encoder the text model
  loaded.

The two sides run one after the other on each split, in alternating order,
after one warm-up encoding (reading the model files from disk the first
time is not the cost of a fit). The A table's fit seconds are the other
view: text embeddings cached, where the hybrid pays for fitting every
member twice (docs/blend.md, "Cost").
"""

import time

import numpy as np
from sklearn.base import clone

from sklearn_zsrec import clear_cache

USER_TEXTS = "user texts encoded"


def _seconds(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def _members_side(hybrid, train):
    """Seconds of the text model's and each member's own fit, and of the user texts' encoding."""
    clear_cache()
    out = {}
    text = clone(hybrid.text)
    out["text model"] = _seconds(text.fit, train)
    for name, member in hybrid.members:
        out[name] = _seconds(clone(member).fit, train)
    texts = text.user_texts_
    if texts is not None:
        users = np.intersect1d(texts.index.to_numpy(), np.asarray(train.user_id))
        out[USER_TEXTS] = _seconds(text.encoder_.transform, texts.loc[users].to_numpy())
    return out


def _hybrid_side(hybrid, train):
    clear_cache()
    return _seconds(clone(hybrid).fit, train)


def fit_from_scratch(hybrid, splits, log=print):
    """Per split, the hybrid's fit seconds and its members' (a dict), both from empty caches.

    ``hybrid`` has explicit ``members`` (name, recommender) pairs. Returns
    ``{"hybrid": [s, ...], "members": {name: [s, ...]}}``. The caches are
    left as the last hybrid fit leaves them (the text embeddings cached), so
    that the models fitted after this are timed as before it.
    """
    clear_cache()
    warm_up = clone(hybrid.text.encoder) if hybrid.text.encoder is not None else None
    if warm_up is not None:
        warm_up.fit().transform(["a warm-up text"])
    out = {"hybrid": [], "members": {}}
    for k, train in enumerate(splits):
        if k % 2 and k < len(splits) - 1:
            h, parts = _hybrid_side(hybrid, train), _members_side(hybrid, train)
        else:  # the hybrid last at the end: its fit leaves every embedding cached
            parts = _members_side(hybrid, train)
            h = _hybrid_side(hybrid, train)
        out["hybrid"].append(round(h, 3))
        for name, s in parts.items():
            out["members"].setdefault(name, []).append(round(s, 3))
        log(f"  fit from scratch, split {k}: hybrid {h:.1f} s, members "
            f"{sum(parts.values()):.1f} s ({h / sum(parts.values()):.2f}x)")
    return out
