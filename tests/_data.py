"""Synthetic interactions whose right answers are known."""

import numpy as np
import pandas as pd

TOPICS = {
    "space": ["rocket", "astronaut", "galaxy", "planet", "spaceship", "orbit", "alien", "star"],
    "cooking": ["recipe", "kitchen", "chef", "baking", "soup", "pasta", "spices", "bread"],
    "football": ["goal", "stadium", "striker", "league", "referee", "match", "penalty", "coach"],
    "gardening": ["roses", "soil", "seeds", "greenhouse", "tulips", "compost", "garden", "pruning"],
    "jazz": ["saxophone", "trumpet", "swing", "improvisation", "bebop", "piano trio", "blues", "club"],
    "finance": ["stocks", "bonds", "interest rates", "portfolio", "dividends", "banking", "inflation", "market"],
}


def topic_catalog(items_per_topic=10, seed=0):
    """Item texts by topic: (Series id -> text, Series id -> topic)."""
    rng = np.random.RandomState(seed)
    texts, topics = {}, {}
    item = 100
    for topic, words in TOPICS.items():
        for _ in range(items_per_topic):
            chosen = rng.choice(words, size=3, replace=False)
            texts[item] = f"A {topic} story about {chosen[0]}, {chosen[1]} and {chosen[2]}."
            topics[item] = topic
            item += 1
    return pd.Series(texts), pd.Series(topics)


def topic_interactions(topics, users_per_topic=8, per_user=5, seed=0):
    """Each user interacts with ``per_user`` items of one topic."""
    rng = np.random.RandomState(seed)
    rows = []
    user = 0
    for topic in topics.unique():
        pool = topics.index[topics == topic].to_numpy()
        for _ in range(users_per_topic):
            for t, item in enumerate(rng.choice(pool, size=per_user, replace=False)):
                rows.append((f"u{user}", item, t))
            user += 1
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
