from sklearn.model_selection import GridSearchCV
from sklearn_zsrec import (ALSRecommender, HybridRecommender, ItemKNNRecommender,
                           NextItemRecommender, TextEncoder, ZeroShotRecommender)
from sklearn_zsrec.datasets import load_movielens_100k
from sklearn_zsrec.model_selection import LeaveLastOut, train_test_split_last

ml = load_movielens_100k()          # interactions (user_id, item_id, rating, timestamp), item_text, user_text
X_train, X_test = train_test_split_last(ml.interactions)       # each user's last interaction held out
text = ZeroShotRecommender(encoder=TextEncoder(), item_texts=ml.item_text)
members = [("als", ALSRecommender(factors=64, random_state=0)),  # named: als__factors below
           ("knn", ItemKNNRecommender()), ("next", NextItemRecommender())]
hybrid = HybridRecommender(text, members, switch=10, random_state=0)  # progress bars: verbose=0 here and in TextEncoder
hybrid.fit(X_train)
print(hybrid.recommend([1, 2, 3], n=10))   # (3, 10) array of item ids, each user's training items excluded
print(hybrid.predict(X_test)[:5])          # one score per (user_id, item_id) row
print(hybrid.score(X_test))                # NDCG@10 of the held-out rows, higher is better
search = GridSearchCV(hybrid.set_params(verbose=0), {"switch": [1, 5, 20], "als__factors": [32, 64]},
                      cv=LeaveLastOut(n_splits=2)).fit(ml.interactions)
print(search.best_params_, search.best_score_)
