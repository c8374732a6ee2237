"""Progress bars: after their delay, also in the middle of a long stage; never for quick work."""

import time

from sklearn_zsrec import ALSRecommender, HybridRecommender, TextEncoder, ZeroShotRecommender
from sklearn_zsrec import _progress
from sklearn_zsrec._progress import Stages

from ._data import topic_catalog, topic_interactions
from ._members import cf_members
from ._tiny import tiny_model_path


def test_quick_work_shows_no_bar(capsys, monkeypatch):
    # naming a stage refreshed the bar at once, skipping tqdm's delay: a
    # 0.02 s fit printed one (a delay of a minute: quick on any machine)
    monkeypatch.setattr(_progress, "DELAY", 60.0)
    tiny_model_path()  # built (with transformers' own bars) before we listen
    capsys.readouterr()
    stages = Stages(3, 1, "quick")
    for name in ("a", "b", "c"):
        stages(name)
    stages.close()
    texts, topics = topic_catalog()
    text = ZeroShotRecommender(TextEncoder(tiny_model_path(), verbose=0), item_texts=texts)
    HybridRecommender(text, cf_members(ALSRecommender(factors=2, iterations=1, random_state=0)),
                      blend="fixed", random_state=0).fit(topic_interactions(topics))
    printed = capsys.readouterr()
    assert printed.err == printed.out == ""


def test_a_long_stage_shows_the_bar_while_it_runs(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "DELAY", 0.1)
    stages = Stages(2, 1, "slow")
    stages("loading the model")
    time.sleep(1.0)  # still in the first stage: the bar is up, with its name
    shown = capsys.readouterr().err
    stages("next")
    stages.close()
    assert "slow" in shown and "loading the model" in shown
