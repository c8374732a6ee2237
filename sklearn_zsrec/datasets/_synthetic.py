"""Synthetic interactions whose item texts say who interacts with them."""

import operator

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import validate_params

from .._params import Count

# Twenty topics of ordinary words, so that a pretrained text model sees them.
_TOPICS = {
    "space": "rocket astronaut galaxy planet orbit telescope comet nebula moon satellite",
    "cooking": "recipe kitchen chef baking soup pasta spices bread oven dessert",
    "football": "goal stadium striker league referee penalty coach midfield tackle trophy",
    "gardening": "roses soil seeds greenhouse tulips compost pruning hedge orchard lawn",
    "jazz": "saxophone trumpet swing improvisation bebop piano blues trio drummer club",
    "finance": "stocks bonds interest portfolio dividends banking inflation market loan budget",
    "medicine": "doctor hospital surgery vaccine patient nurse diagnosis therapy clinic medicine",
    "ocean": "whale coral reef sailing tide shark dolphin harbour island lighthouse",
    "history": "empire castle medieval battle dynasty pharaoh revolution kingdom ancient museum",
    "programming": "software code compiler database algorithm python debugging server laptop network",
    "wildlife": "lion safari elephant jungle tiger savanna zebra leopard gorilla wildlife",
    "fashion": "dress designer runway fabric jacket boutique shoes handbag model style",
    "mountains": "hiking summit glacier alpine climbing trail cabin snow ridge valley",
    "cinema": "film director actor screenplay premiere camera studio cinema festival scene",
    "cars": "engine racing motor garage tyres speed driver rally sedan gearbox",
    "poetry": "poem verse rhyme sonnet poet stanza lyric metaphor ballad haiku",
    "chemistry": "molecule atom reaction laboratory acid electron catalyst compound element beaker",
    "travel": "airport passport hotel luggage tourist flight journey map backpack holiday",
    "farming": "tractor harvest wheat cattle barn farmer crops dairy sheep plough",
    "painting": "canvas brush portrait gallery watercolour easel sketch palette artist mural",
}
_WORDS = np.array([w for words in _TOPICS.values() for w in words.split()], dtype=object)
_WORDS_PER_TOPIC = 10
MAX_TOPICS = len(_TOPICS)
_ZIPF = 0.8  # item popularity ~ rank ** -0.8 within the catalog
_ACTIVITY_SIGMA = 0.8  # user activity ~ log-normal(0, 0.8)


def _first_occurrences(values):
    """Positions of the first occurrence of each distinct value, in order."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.ones(len(values), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return np.sort(order[first])


@validate_params(
    {
        "n_users": [Count(1, None, closed="left")],
        "n_items": [Count(1, None, closed="left")],
        "n_interactions": [Count(1, None, closed="left")],
        "n_topics": [Count(1, MAX_TOPICS, closed="both")],
        "words_per_text": [Count(1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_synthetic_interactions(
    n_users=1000,
    n_items=500,
    n_interactions=20_000,
    *,
    n_topics=10,
    words_per_text=6,
    random_state=None,
):
    """Generate interactions in which item texts carry signal about users.

    Each item has one topic and a text of ``words_per_text`` words, most of
    them drawn from its topic's vocabulary (ordinary English words, e.g.
    "rocket", "galaxy" for space), so a pretrained text model groups items
    by topic. Each user prefers one topic: each draw picks an item of that
    topic with probability 0.8, of any topic otherwise. Pairs drawn twice are
    dropped and the shortfall drawn again; repeats are most frequent in a
    user's own topic, so dense data keep fewer of them: the share of rows in
    the users' topics is
    about 0.8 for sparse data (0.82 with 10,000 users, 5,000 items and
    20,000 rows), 0.72 with the defaults and 0.26 with 100 users, 50 items
    and 2,000 rows. Within a topic, items are chosen by a long-tailed
    popularity (Zipf, ``rank ** -0.8``); user activity is long-tailed too
    (log-normal). Everything is vectorised
    numpy: ten million interactions take seconds and under 1 GB at peak
    when they are a small share of the user-item pairs; dense data take
    more rounds of drawing (ten million of 20 million pairs: some 100 s and
    2.7 GB).

    Parameters
    ----------
    n_users : int, default=1000
        Number of users.
    n_items : int, default=500
        Number of items; each has a text.
    n_interactions : int, default=20000
        Number of distinct ``(user_id, item_id)`` pairs to draw. Repeated
        draws are replaced by new ones, for up to 20 rounds, then by pairs
        not drawn yet, uniformly (dense data: beyond about 70% of the
        pairs); only a catalog too small for that many pairs gives fewer
        rows (all its ``n_users * n_items`` pairs).
    n_topics : int, default=10
        Number of topics, at most 20.
    words_per_text : int, default=6
        Words in each item text; about 80% from the item's topic.
    random_state : int, RandomState instance or None, default=None
        Seed; an int makes the result repeatable.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        interactions : pandas.DataFrame of shape (n_rows, 3)
            Columns ``user_id`` (int32, 0 to n_users - 1), ``item_id``
            (int32, 0 to n_items - 1) and ``timestamp`` (int64), sorted by
            timestamp; n_rows <= n_interactions.
        item_text : pandas.Series of str
            One text per item, indexed by ``item_id`` (all ``n_items``,
            including items nobody interacted with).
        user_text : pandas.Series of str
            One short text per user naming their preferred topic, indexed by
            ``user_id``.
        item_topic : ndarray of shape (n_items,)
            Topic index of each item.
        user_topic : ndarray of shape (n_users,)
            Preferred topic of each user.
        topics : list of str
            Names of the topics.

    Examples
    --------
    >>> from sklearn_zsrec.datasets import make_synthetic_interactions
    >>> data = make_synthetic_interactions(100, 50, 2000, n_topics=5, random_state=0)
    >>> data.interactions.columns.tolist()
    ['user_id', 'item_id', 'timestamp']
    >>> len(data.item_text), len(data.user_text)
    (50, 100)
    >>> len(data.interactions)
    2000
    >>> print(data.item_text[0], "|", data.topics[data.item_topic[0]])
    item 0: saxophone piano saxophone club improvisation trumpet | jazz
    """
    rng = check_random_state(random_state)
    # Python ints: numpy's int32 (ids of this generator + 1) overflowed n_users * n_items
    n_users, n_items, n_interactions = map(operator.index, (n_users, n_items, n_interactions))
    topics = list(_TOPICS)[:n_topics]
    n_interactions = min(n_interactions, n_users * n_items)  # every pair at most

    # items: a topic each, a long-tailed popularity within the catalog
    item_topic = rng.randint(n_topics, size=n_items)
    popularity = rng.permutation(np.arange(1, n_items + 1)) ** -_ZIPF
    by_topic = np.argsort(item_topic, kind="stable")  # items grouped by topic
    cum = np.cumsum(popularity[by_topic])
    ends = np.searchsorted(item_topic[by_topic], np.arange(n_topics), side="right")
    hi = np.r_[0.0, cum][ends]  # a topic without items: its range is empty
    lo = np.r_[0.0, hi[:-1]]
    has_items = np.diff(np.r_[0, ends]) > 0

    # users: a preferred topic, a long-tailed activity
    user_topic = rng.randint(n_topics, size=n_users)
    activity = np.cumsum(rng.lognormal(0.0, _ACTIVITY_SIGMA, size=n_users))
    with_items = np.flatnonzero(has_items)

    def draw(size):
        users = np.searchsorted(activity, rng.uniform(0, activity[-1], size))
        users = np.minimum(users, n_users - 1)
        # the user's topic (80%) or any topic; a topic with items in any case
        topic = user_topic[users]
        other = (rng.uniform(size=size) >= 0.8) | ~has_items[topic]
        topic[other] = rng.choice(with_items, size=int(other.sum()))
        # an item of that topic, by popularity
        u = lo[topic] + rng.uniform(size=size) * (hi[topic] - lo[topic])
        pos = np.minimum(np.searchsorted(cum, u, side="right"), n_items - 1)
        return users.astype(np.int64) * n_items + by_topic[pos]

    # Distinct (user, item) pairs, in order of drawing: draw, drop repeats,
    # draw the shortfall again, until n_interactions or 20 rounds.
    pairs = np.zeros(0, dtype=np.int64)
    size = n_interactions + n_interactions // 4
    for _ in range(20):
        kept = len(pairs)
        pairs = np.concatenate([pairs, draw(size)])
        pairs = pairs[_first_occurrences(pairs)]  # the kept ones come first
        new_rate = max((len(pairs) - kept) / size, 0.05)
        if len(pairs) >= n_interactions:
            break
        size = int((n_interactions - len(pairs)) / new_rate * 1.25) + 100
    if len(pairs) < n_interactions:  # dense: the rest among the pairs not drawn yet
        rest = np.setdiff1d(np.arange(n_users * n_items, dtype=np.int64), pairs)
        pairs = np.r_[pairs, rng.permutation(rest)[:n_interactions - len(pairs)]]
    pairs = pairs[:n_interactions]
    timestamps = np.sort(rng.randint(0, 10**9, size=len(pairs)).astype(np.int64))
    interactions = pd.DataFrame(
        {
            "user_id": (pairs // n_items).astype(np.int32),
            "item_id": (pairs % n_items).astype(np.int32),
            "timestamp": timestamps,
        }
    )
    del pairs, timestamps

    # texts: mostly words of the item's topic, some of any topic
    word = rng.randint(_WORDS_PER_TOPIC, size=(n_items, words_per_text))
    word_topic = np.where(
        rng.uniform(size=(n_items, words_per_text)) < 0.8,
        item_topic[:, None],
        rng.randint(n_topics, size=(n_items, words_per_text)),
    )
    words = _WORDS[word_topic * _WORDS_PER_TOPIC + word]
    item_text = pd.Series(
        [f"item {i}: " + " ".join(row) for i, row in enumerate(words.tolist())],
        index=pd.Index(np.arange(n_items), name="item_id"),
        name="item_text",
    )
    user_text = pd.Series(
        [f"someone who likes {topics[t]}" for t in user_topic],
        index=pd.Index(np.arange(n_users), name="user_id"),
        name="user_text",
    )
    return Bunch(
        interactions=interactions,
        item_text=item_text,
        user_text=user_text,
        item_topic=item_topic,
        user_topic=user_topic,
        topics=topics,
    )
