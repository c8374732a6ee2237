"""The ranking metrics written out in plain Python, one user at a time.

trec_eval's conventions, as ``sklearn_zsrec.metrics`` documents them: an id
repeated in a ranking is a hit only the first time, positions past the end
are misses, MAP divides by the number of relevant items. The randomised
tests compare the package's vectorised metrics and scorers with these.
"""

import math


def metric_by_definition(metric, relevant, ranking, k):
    """One user's value of ``metric`` (a name of ``sklearn_zsrec.metrics``), written out.

    ``relevant``: the user's relevant ids; ``ranking``: its recommended ids,
    best first (None or NaN: an empty position); ``k`` the cutoff (None: the
    whole ranking, for "mrr"). None for a user without relevant items.
    """
    relevant = set(relevant)
    if not relevant:
        return None
    top = ranking if k is None else ranking[:k]
    seen, hits = [], []
    for item in top:
        missing = item is None or (isinstance(item, float) and math.isnan(item))
        hits.append(not missing and item in relevant and item not in seen)
        seen.append(item)
    found = sum(hits)
    if metric == "hit_rate":
        return float(found > 0)
    if metric == "precision":
        return found / k
    if metric == "recall":
        return found / len(relevant)
    if metric == "ndcg":
        dcg = sum(1 / math.log2(i + 2) for i, h in enumerate(hits) if h)
        return dcg / sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    if metric == "map":
        return sum(sum(hits[:i + 1]) / (i + 1) for i, h in enumerate(hits) if h) / len(relevant)
    return next((1 / (i + 1) for i, h in enumerate(hits) if h), 0.0)  # mrr
