"""The members the tests give HybridRecommender: a CF model named "cf", item-kNN, next-item."""

from sklearn_zsrec import ItemKNNRecommender, NextItemRecommender


def cf_members(cf, **knn_params):
    """``[("cf", cf), ("knn", ItemKNNRecommender(**knn_params)), ("next", NextItemRecommender())]``."""
    return [("cf", cf), ("knn", ItemKNNRecommender(**knn_params)), ("next", NextItemRecommender())]
