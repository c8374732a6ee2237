"""Why was this movie recommended? One real MovieLens user, explained."""


from sklearn_zsrec import (ALSRecommender, HybridRecommender, ItemKNNRecommender,
                           NextItemRecommender, TextEncoder, ZeroShotRecommender)
from sklearn_zsrec.datasets import load_movielens_100k
from sklearn_zsrec.model_selection import train_test_split_last

ml = load_movielens_100k()
X_train, X_test = train_test_split_last(ml.interactions)
text = ZeroShotRecommender(encoder=TextEncoder(verbose=0), item_texts=ml.item_text)
members = [("als", ALSRecommender(factors=64, random_state=0)), ("knn", ItemKNNRecommender()),
           ("next", NextItemRecommender())]
hybrid = HybridRecommender(text, members, random_state=0, verbose=0).fit(X_train)
title = ml.item_text.str.split(". Genres").str[0]
user = 1
top = hybrid.recommend(user, n=1)[0]
print(f"user {user}'s first recommendation: {title[top]}\n")
# the blend: each member's weight x standardised score; they add up to the score
print(hybrid.explain(user, [top], max_contributions=4).round(3).to_string(index=False))
# the member that weighs most, taken down to the user's own history
why = hybrid.named_members_.next.explain(user, [top], max_contributions=3)
why["contributor"] = why["contributor"].map(title)
print()
print(why[["source", "contributor", "contribution"]].round(3).to_string(index=False))
