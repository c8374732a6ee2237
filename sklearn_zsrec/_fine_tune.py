"""Fine-tuning of the text encoder on interactions (contrastive, co-consumed items).

:class:`ContrastiveFineTuning` adapts a :class:`TextEncoder`'s transformer so
that items consumed one after the other get close embeddings, and, when user
texts are given, a user's text gets close to the items they consumed. The
tuned model is saved as a plain HuggingFace directory (with the base model's
tokenizer and sentence-transformers files) keyed by the data and the
settings: the same data and settings load it again instead of training, in
this process and in others, and a :class:`TextEncoder` reads it like any
model (its embedding cache keeps it apart from the base model's).
"""

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from numbers import Real
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no lock across processes
    fcntl = None

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import Interval, StrOptions

from ._ids import _unique_ids
from ._interactions import positions
from ._model_files import model_files_gone
from ._params import Count
from ._progress import DELAY, caller_stacklevel, no_loading_bars, note, progress, quiet
from ._locks import Lock, imported

logger = logging.getLogger("sklearn_zsrec")

# the in-batch softmax temperature (sentence-transformers'
# MultipleNegativesRankingLoss scale 20): the usual value for normalised
# embeddings; not a parameter, as no measurement asked to change it
TEMPERATURE = 0.05
# LoRA on the attention's query and value projections, rank 8 (the LoRA
# paper's setting for BERT-sized models); alpha = 2 x rank
LORA_RANK = 8
# Early stopping on texts training never sees: HELD_OUT of the distinct
# texts (items' and users') are set aside, for every item and user that has
# one (users' texts repeat: 526 texts for MovieLens-100K's 943 users);
# their pairs (an item paired with a held-out one, a held-out text's user
# with their items) are scored every n_steps / EVALUATIONS steps by the mean
# reciprocal rank of the true item among the sampled pairs' items (VALIDATION pairs at most),
# and the weights of the best evaluation are kept (the base model's when
# none beats it): tuning goes only as far as it helps texts it has not
# seen, which is what cold items and users are. Training stops after
# PATIENCE evaluations without a better one. Below MIN_HELD_OUT pairs
# (tiny data) there is no validation and the last step is kept. A step whose
# loss is not finite (a learning rate too high for the model) ends training:
# the best evaluated weights are kept, or without validation the base's.
HELD_OUT = 0.1
EVALUATIONS = 10
PATIENCE = 3
VALIDATION = 256
MIN_HELD_OUT = 50
# in the tuned models' key: a model tuned under earlier rules is not reused
# (2: items of one text are not each other's negatives; 3: held out by text)
TRAINING_RULES = 3
# weight files of a model directory that are not copied from the base model
_WEIGHTS = (".safetensors", ".bin", ".pt", ".h5", ".msgpack", ".onnx")
_LOCK = Lock()  # one tuning at a time in a process
UNSEEDED_HYBRID = (
    "HybridRecommender: random_state=None draws a new holdout at every fit, and "
    "text__fine_tune tunes on the holdout's rows: each fit (each grid candidate) trains "
    "and saves another tuned model. Set random_state to an int to tune once per data.")


def _warn_if_diverged(directory):
    """Repeat, for a tuned model loaded from ``directory``, the warning its training gave."""
    try:
        record = json.loads((Path(directory) / "fine_tuning.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # a record of one's own, or none: nothing to repeat
        return
    if isinstance(record, dict) and record.get("diverged_at_step"):
        warnings.warn(
            f"ContrastiveFineTuning: the tuned model loaded from {str(directory)!r} diverged "
            f"in its training at step {record['diverged_at_step']}, which kept the weights "
            f"of step {record.get('step_kept')} (0: the base model's; its fine_tuning.json "
            "says so). Lower learning_rate to tune further.", UserWarning,
            stacklevel=caller_stacklevel())


def _check_writable(location):
    """Raise, naming the fix, unless a tuned model can be saved in ``location``.

    A location that exists but cannot be written failed only when the
    model was saved, after the whole training, on a bare PermissionError.
    """
    try:
        os.rmdir(tempfile.mkdtemp(dir=location, prefix=".staging-"))
    except OSError as error:
        raise OSError(
            f"ContrastiveFineTuning: cannot write in location {str(location)!r} ({error}), "
            "where the tuned model is saved. Pass location= a directory one can write to "
            "(or set $SKLEARN_ZSREC_CACHE, the default's root).") from error


@contextlib.contextmanager
def _process_lock(location, key, verbose):
    """Hold a lock across processes on tuning ``key`` under ``location``.

    Two grid-search workers that needed the same tuned model both trained it
    (minutes each on 2 cores), and one that found it damaged could remove the
    folder the other had just tuned and was loading. Now the second waits,
    then loads the first one's model. A POSIX record lock (``lockf``) on a
    file ``.<key>.lock`` beside the folder: the system releases it when its
    process ends, however it ends, and a child forked meanwhile does not
    inherit it (``flock``'s was shared with the child, which held every
    process's tunings until it exited). Per process: ``_LOCK`` orders the
    threads. Without one (Windows; a location where the file cannot be
    made or locked, read only say: tuned models shared by another account),
    each process goes on unlocked, as before.
    """
    fd = _lock_file(location / f".{key}.lock")
    try:
        if fd is not None:
            _take(fd, location / key, verbose)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # (releases the lock: the process's only descriptor of the file)


def _take(fd, folder, verbose):
    """Take the lock of ``fd``, waiting while another process holds it; say so if not soon free.

    A process that checks the tuned folder (each grid worker that loads the
    model) holds it for milliseconds: only a wait of over ``DELAY`` seconds,
    for a tuning, is said (each worker of a search said it once). Polled to
    the end, not a blocking ``lockf``: a location that stops granting locks
    mid-wait (ENOLCK: a network file system's lock service gone) is then
    left unlocked, as one without them from the start (a bare OSError did
    escape the blocking wait).
    """
    start, said = time.monotonic(), False
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except (BlockingIOError, PermissionError):  # held (EAGAIN, EACCES)
            pass
        except OSError as error:  # no locks there (ENOLCK: a file system without them): unlocked
            if said:  # (after "waiting for it": why it goes on)
                message = (f"ContrastiveFineTuning: locks are no longer granted at "
                           f"{str(folder)!r} ({error}); going on without waiting.")
                logger.info(message)
                note(message, verbose)
            return
        if not said and time.monotonic() - start > DELAY:
            message = (f"ContrastiveFineTuning: another process is tuning or checking the model "
                       f"at {str(folder)!r}; waiting for it (safe to interrupt).")
            logger.info(message)
            note(message, verbose)  # (above a bar that shows)
            said = True
        time.sleep(0.1 if said else 0.02)


def _lock_file(path):
    """A descriptor of the lock file ``path`` (made if need be), or None without one."""
    if fcntl is None:
        return None
    try:  # (lockf's exclusive lock needs a descriptor open for writing)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None


def default_location():
    """Where tuned models go by default: ``$SKLEARN_ZSREC_CACHE`` or ``~/.cache/sklearn_zsrec``."""
    root = os.environ.get("SKLEARN_ZSREC_CACHE") or Path.home() / ".cache" / "sklearn_zsrec"
    return Path(root).expanduser().absolute() / "fine-tuned"  # (a relative one: from here)


def interaction_pairs(users, items, order, window):
    """``(anchor, positive)`` item positions: each item and the ``window`` items after it.

    ``users``, ``items`` (integer positions) and ``order`` (time rank) are
    aligned arrays of interactions. Pairs of an item with itself are dropped.
    """
    frame = pd.DataFrame({"u": users, "i": items, "o": order}).sort_values(["u", "o"],
                                                                           kind="stable")
    u, i = frame.u.to_numpy(), frame.i.to_numpy()
    anchors, positives = [], []
    for lag in range(1, window + 1):
        same = u[lag:] == u[:-lag]
        a, p = i[:-lag][same], i[lag:][same]
        keep = a != p
        anchors.append(a[keep])
        positives.append(p[keep])
    return np.concatenate(anchors), np.concatenate(positives)


def held_out_pairs(anchors, positives, codes, rng):
    """``(train, validation)`` pair indices; validation None when too few pairs.

    ``anchors`` and ``positives`` index the texts (items, then users) whose
    ``codes`` (``text_codes``) number their distinct texts: a text is held
    out for all that have it, so that no held-out text is seen in training.
    """
    out = (rng.random(codes.max(initial=-1) + 1) < HELD_OUT)[codes]
    touched = out[anchors] | out[positives]
    val = np.flatnonzero(touched)
    if len(val) < MIN_HELD_OUT or touched.all():
        return np.arange(len(anchors)), None
    if len(val) > VALIDATION:
        val = np.sort(rng.choice(val, size=VALIDATION, replace=False))
    return np.flatnonzero(~touched), val


def text_codes(encoder, texts):
    """``texts`` as ``encoder`` reads them (template, lower-casing), and one code per
    distinct one: texts that read alike embed alike."""
    from ._encoder import prepare_texts

    prepared = np.array(prepare_texts(texts, encoder.template,
                                      getattr(encoder, "lowercase_", False)), dtype=object)
    return prepared, pd.factorize(prepared)[0]


def has_negatives(anchors, positives):
    """Whether some pair (text codes) can meet a negative in a batch: another pair's
    item of a text other than its own item's and its anchor's (``in_batch_clashes``)."""
    kinds = np.unique(positives)
    if len(kinds) != 2:
        return len(kinds) > 2
    other = np.where(np.asarray(positives) == kinds[0], kinds[1], kinds[0])
    return bool((np.asarray(anchors) != other).any())


def in_batch_clashes(anchors, positives):
    """Where another pair's item may not be a pair's negative: the in-batch loss's mask.

    ``anchors``, ``positives``: a batch's pairs as text codes (one per
    distinct text). Row ``i``, column ``j`` is True when pair ``j``'s item
    has the text of pair ``i``'s item or anchor (the same item, or a twin:
    items of one text embed alike, and pushing them apart is no signal);
    the diagonal (the pair's own item, the positive) is False.
    """
    anchors, positives = np.asarray(anchors), np.asarray(positives)
    clash = (positives[None, :] == positives[:, None]) | (positives[None, :] == anchors[:, None])
    np.fill_diagonal(clash, False)
    return clash


class NoTrainingPairs(ValueError):
    """Raised by ``ContrastiveFineTuning`` when the interactions give it no training pair.

    The hybrid's learned blend catches it on a holdout's rows (each user's
    latest interaction left out), to try the other holdout.
    """


class ContrastiveFineTuning(BaseEstimator):
    """Fine-tune a text encoder so that co-consumed items get close embeddings.

    Pass it to :class:`ZeroShotRecommender` (``fine_tune=``), or to a
    :class:`HybridRecommender` through its text member
    (``text__fine_tune=``): the recommender's ``fit`` then trains on its own
    interactions before it embeds the items. Each training pair is an item
    and one of the ``window`` items its user consumed next; when the
    recommender has user texts, also a user's text and an item they
    consumed. Interactions of weight 0 make no pair. The loss is the
    in-batch softmax of sentence-transformers'
    ``MultipleNegativesRankingLoss`` (the other pairs' items are the
    negatives; an item is never its own negative, nor an item of the same
    text, as product variants often are). A tenth of the distinct texts
    (items' and users') are held out of training, for every item and user
    that has one, and the weights kept are those that
    rank their pairs best (evaluated every tenth of ``n_steps``, every step
    below 20, and at the last; the base model's if no step
    beats it): tuning goes only as far as it helps texts it has not seen,
    which is what cold items and users are. With fewer than 50 held-out
    pairs (small data) nothing is held out and the last step is kept. A
    step whose loss is not finite (a ``learning_rate`` too high for the
    model) ends training with a warning, keeping the best evaluated weights
    (without held-out pairs, the base model's).

    Training runs once per data and settings: the tuned model is saved under
    ``location`` by a key of the base model, the texts, the pairs and these
    parameters, and loaded from there when they come back (so the candidates
    of a grid search over other parameters share one tuning; in a
    :class:`HybridRecommender`, which tunes on the rows of its holdout, only
    with an int ``random_state`` on the hybrid, as its holdout is drawn anew
    otherwise). Training runs in float32 whatever the base model's dtype.

    Parameters
    ----------
    method : {"lora", "full"}, default="lora"
        ``"lora"`` trains rank-8 adapters on the attention's query and value
        projections (needs ``peft``: ``pip install "sklearn-zsrec[tune]"``)
        and merges them into the saved model; ``"full"`` trains every weight.
        LoRA is the default from one side run on MovieLens-100K (see
        ``docs/fine_tuning.md``; the benchmark page measures LoRA only).
    n_steps : int, default=200
        Optimiser steps (batches). Training time is linear in it.
    batch_size : int, default=32
        Pairs per step; every other pair's item is a negative.
    learning_rate : float, default=None
        AdamW's peak rate (linear warm-up over the first tenth of the steps,
        then linear decay). None: 5e-5 for ``"full"``, 1e-3 for ``"lora"``.
    window : int, default=3
        An item is paired with each of the next ``window`` items of its user.
    location : str or path, default=None
        Directory of the tuned models. None uses the encoder's ``memory``
        location when it has one, else ``$SKLEARN_ZSREC_CACHE/fine-tuned``
        (default ``~/.cache/sklearn_zsrec/fine-tuned``). About 90 MB per tuned
        model for the default encoder; delete the directory to free it
        (a model fitted with it then cannot encode new texts: users' texts
        given at call time, ``add_items``; fit it again). Processes that
        need one model at once (grid-search workers) tune it once: the
        others wait for it (on POSIX).
    random_state : int, default=0
        Seeds the sampling of pairs and torch's initialisation.
    verbose : int, default=1
        Show a progress bar while training, from 2 seconds in (a shorter
        tuning shows none, as every bar of the package), and a line when
        another process has held the tuned model's lock for 2 seconds (it is
        tuning that model); 0 silences both (the line is also logged).

    See Also
    --------
    ZeroShotRecommender : Takes it as ``fine_tune``.

    Notes
    -----
    Tuning is deterministic for a fixed ``random_state`` and torch thread
    count, whatever torch settings the caller made: it runs with gradients
    on, outside ``inference_mode`` and ``autocast``, with float32 as torch's
    default dtype (restored after it; that default is process-wide in torch,
    so another thread that relies on a float64 default sees float32 while a
    tuning runs). The fitted encoder reads the tuned model from
    ``location``: keep the directory as long as you keep (or unpickle) the
    recommender.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_zsrec import ContrastiveFineTuning, TextEncoder, ZeroShotRecommender
    >>> items = pd.Series({1: "Toy Story (1995). Animation", 2: "Heat (1995). Crime",
    ...                    3: "Aladdin (1992). Animation", 4: "Casino (1995). Crime"})
    >>> X = pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [1, 2, 3, 4]})
    >>> tuning = ContrastiveFineTuning(n_steps=2, batch_size=2, verbose=0)
    >>> rec = ZeroShotRecommender(TextEncoder(verbose=0), item_texts=items,
    ...                           fine_tune=tuning).fit(X)
    >>> rec.encoder_.model == rec.encoder.model  # the tuned model's directory
    False
    """

    _parameter_constraints = {
        "method": [StrOptions({"full", "lora"})],
        "n_steps": [Count(1, None, closed="left")],
        "batch_size": [Count(2, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "window": [Count(1, None, closed="left")],
        "location": [str, os.PathLike, None],
        # an int only: the seed is part of the tuned model's cache key (an
        # instance would print the same for every seed)
        "random_state": [Count(0, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(self, method="lora", *, n_steps=200, batch_size=32, learning_rate=None,
                 window=3, location=None, random_state=0, verbose=1):
        self.method = method
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.window = window
        self.location = location
        self.random_state = random_state
        self.verbose = verbose

    def tuned_encoder(self, encoder, item_texts, data, item_positions, user_texts=None):
        """A fitted copy of ``encoder`` on the model tuned to these interactions.

        Parameters
        ----------
        encoder : TextEncoder
            Fitted; its model is the base and its pooling, normalisation,
            template and token limit are used in training.
        item_texts : ndarray of str of shape (n_items,)
            The catalogue's texts.
        data : Interactions
            The validated interactions.
        item_positions : ndarray of int of shape (n_interactions,)
            The position in ``item_texts`` of each interaction's item.
        user_texts : pandas.Series, default=None
            Texts by user id; users of ``data`` with a text add (user text,
            item) pairs.

        Returns
        -------
        encoder : TextEncoder
            ``clone(encoder)`` with ``model`` set to the tuned directory, fitted.
        """
        self._validate_params()
        from ._encoder import TextEncoder

        if not isinstance(encoder, TextEncoder):
            raise TypeError(
                f"ContrastiveFineTuning tunes a TextEncoder's transformer; got an encoder "
                f"of type {type(encoder).__name__}. Use a TextEncoder, or fine_tune=None "
                "with an encoder of your own.")
        if self.method == "lora":
            _require_peft()
        texts = np.asarray(item_texts, dtype=object)
        picked = data.interacted  # an interaction of weight 0 makes no pair
        # users numbered in an order of their own (sorted ids), not as they
        # first come in the rows: rows whose times tie across users come in
        # the caller's order, and the pairs' order decides the batches
        users = positions(pd.Index(_unique_ids(data.user_id)), data.user_id)
        anchors, positives = interaction_pairs(users[picked], item_positions[picked],
                                               np.asarray(data.order)[picked], self.window)
        anchor_texts = texts
        if user_texts is not None:
            # user text -> each consumed item: the anchors past the catalogue
            has = pd.Index(user_texts.index).get_indexer(data.user_id)
            known = (has >= 0) & picked
            offset = len(texts)
            # numbered as the users above (not in the order of the rows or of
            # ``user_texts``), each user's pairs in time order
            _, first, user_rows = np.unique(users[known], return_index=True,
                                            return_inverse=True)
            by_user = np.lexsort((np.asarray(data.order)[known], user_rows))
            anchor_texts = np.concatenate(
                [texts, user_texts.to_numpy(dtype=object)[has[known][first]]])
            anchors = np.concatenate([anchors, offset + user_rows[by_user]])
            positives = np.concatenate([positives, item_positions[known][by_user]])
        if len(anchors) == 0:
            raise NoTrainingPairs(
                "ContrastiveFineTuning: the interactions give no training pair (no "
                "user has two distinct items of weight above 0, and no such user has a "
                "text); fit without fine_tune, or with more interactions.")
        # one code per distinct text: items of one text (product variants)
        # embed alike, so they are neither each other's negatives nor apart
        # candidates in the evaluation, and a text is held out for all that have it
        coded = text_codes(encoder, anchor_texts)  # (the texts as read, their codes)
        codes = coded[1]
        if not has_negatives(codes[anchors], codes[positives]):  # every loss 0
            raise NoTrainingPairs(
                f"ContrastiveFineTuning: none of the interactions' {len(anchors)} "
                "training pairs can have a negative (another pair's item of a text other "
                "than its item's and its anchor's: the pairs' items all have one text, or "
                "two that are each other's anchors), so the loss is 0 at every step and "
                "tuning learns nothing; fit without fine_tune, or with more interactions.")
        key = self._key(encoder, anchor_texts, anchors, positives)
        location = self._location(encoder)
        directory = location / key
        if location.exists() and not location.is_dir():  # (mkdir: a bare "File exists")
            raise NotADirectoryError(
                f"ContrastiveFineTuning: location {str(location)!r} is a file; pass a "
                "directory for the tuned models (or location=None for the default cache).")
        location.mkdir(parents=True, exist_ok=True)  # one that cannot be made fails here

        def remove(why):  # a damaged tuned model, to tune again
            shutil.rmtree(directory, ignore_errors=True)
            if directory.exists():
                raise OSError(
                    f"ContrastiveFineTuning: the tuned model at {str(directory)!r} {why}, and "
                    "it cannot be removed to tune it again. Delete it, or pass a location "
                    "one can write to.")

        def tuned(loading):  # ``loading`` gets True when it loads a folder it did not tune
            with no_loading_bars():
                trained = model_files_gone(directory)  # never tuned, or its weights deleted since
                if trained:
                    if directory.exists():
                        remove("has lost its weights")
                    _check_writable(location)  # before the training, not after it
                    import torch

                    # its seed (random_state) leaves the caller's torch RNGs as they were;
                    # gradients on and float32 whatever the caller set (a process that
                    # turned autograd off, or inside inference_mode, failed in backward;
                    # one whose default dtype was float64, or inside autocast, tuned
                    # another model under the same key)
                    cuda = (list(range(torch.cuda.device_count()))
                            if torch.cuda.is_available() else [])
                    with torch.random.fork_rng(devices=cuda), torch.inference_mode(False), \
                            torch.enable_grad(), _default_dtype(torch.float32), \
                            torch.autocast(torch.device(encoder.device_).type, enabled=False):
                        self._train(encoder, coded, anchors, positives, location,
                                    directory)
                else:
                    loading.append(True)
            out = clone(encoder).set_params(model=str(directory)).fit()
            if not trained:  # a tuning that diverged says so whenever it is loaded
                _warn_if_diverged(directory)
            return out

        from safetensors import SafetensorError

        # one tuning, and one check (and removal) of a tuned folder, at a time: in
        # this process, and across processes for this folder (grid workers)
        with _LOCK, _process_lock(location, key, self.verbose):
            loading = []
            try:
                return tuned(loading)
            except (SafetensorError, OSError, json.JSONDecodeError) as error:
                # the files of a folder it loaded damaged since (weights,
                # config.json or tokenizer.json truncated or emptied: every
                # later fit failed, on a bare JSONDecodeError naming no file).
                # Not a folder this call tuned, nor an error of the system's
                # (an errno: too many open files, EIO, EACCES): a good model
                # was deleted and tuned again
                if not loading or (isinstance(error, OSError) and error.errno is not None):
                    raise
                remove(f"does not load ({type(error).__name__}: {error})")
                warnings.warn(f"ContrastiveFineTuning: the tuned model at {str(directory)!r} "
                              f"did not load ({error}); tuning it again.", UserWarning,
                              stacklevel=caller_stacklevel())
                return tuned([])

    def _location(self, encoder):
        """Where tuned models are kept: an absolute path (the tuned encoder's ``model``)."""
        if self.location is not None:
            return Path(self.location).expanduser().absolute()
        memory = getattr(encoder.memory, "location", encoder.memory)
        return (Path(memory).expanduser().absolute() / "fine-tuned" if memory is not None
                else default_location())

    def _key(self, encoder, texts, anchors, positives):
        h = hashlib.sha256()
        settings = {k: v for k, v in self.get_params().items()
                    if k not in ("location", "verbose")}
        h.update(json.dumps([encoder._cache_key(), settings, TRAINING_RULES], sort_keys=True,
                            default=str).encode())
        for t in texts:  # each with its length: a NUL inside a text is no separator
            data = t.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little") + data)
        h.update(np.ascontiguousarray(anchors, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(positives, dtype=np.int64).tobytes())
        return h.hexdigest()[:32]

    def _train(self, encoder, coded, anchors, positives, location, directory):
        import torch

        # (not two threads at once)
        AutoModel, AutoTokenizer = imported("transformers", "AutoModel", "AutoTokenizer")

        from ._encoder import _pool
        from ._model_files import float32_weights

        prepared, codes = coded  # ``text_codes`` of the anchors' texts
        rng = np.random.default_rng(self.random_state)
        torch.manual_seed(int(rng.integers(2**31)))
        train, val = held_out_pairs(anchors, positives, codes, rng)
        path = encoder.model_path_
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if tokenizer.pad_token is None and tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token  # as TextEncoder pads decoder models
        # float32 whatever the checkpoint's dtype: float16 weights train to NaN,
        # bfloat16 ones lose the small updates
        model = AutoModel.from_pretrained(path, local_files_only=True,
                                          **float32_weights()).to(encoder.device_)
        if self.method == "lora":
            LoraConfig, get_peft_model = imported("peft", "LoraConfig", "get_peft_model")

            _import_dtensor()
            # BERT's attention projections; other architectures: peft's own
            # choice for them (GPT-2's c_attn, Llama's q_proj/v_proj, ...)
            names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
            targets = ["query", "value"] if {"query", "value"} <= names else None
            try:
                # peft reads transformers 5's deprecated is_gradient_checkpointing
                # (a FutureWarning about peft's code at every tuning). Around this
                # call only: a filter over the whole tuning, minutes, hid other
                # threads' warnings meanwhile, and two threads' overlapping
                # catch_warnings could leave it in place for good.
                with quiet("`is_gradient_checkpointing` is deprecated",
                           category=FutureWarning):
                    model = get_peft_model(model, LoraConfig(
                        r=LORA_RANK, lora_alpha=2 * LORA_RANK, lora_dropout=0.0,
                        target_modules=targets))
            except ValueError as exc:
                raise ValueError(
                    f"ContrastiveFineTuning(method='lora'): peft knows no attention "
                    f"layers to adapt in {type(model).__name__} ({exc}). Use "
                    "method='full'.") from exc
        rate = self.learning_rate or (5e-5 if self.method == "full" else 1e-3)
        params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        optimiser = torch.optim.AdamW(params.values(), lr=rate)
        warmup = max(1, self.n_steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(
            (s + 1) / warmup, max(0.0, (self.n_steps - s) / max(1, self.n_steps - warmup))))
        left = getattr(tokenizer, "padding_side", "right") == "left"

        def embed(idx):
            batch = tokenizer(list(prepared[idx]), padding=True, truncation=True,
                              max_length=encoder.max_length_, return_tensors="pt")
            batch = {k: v.to(encoder.device_) for k, v in batch.items()}
            hidden = model(**batch).last_hidden_state
            pooled = _pool(hidden, batch["attention_mask"], encoder.pooling_, left)
            return torch.nn.functional.normalize(pooled, dim=1)

        def held_out_mrr():
            a, p = anchors[val], positives[val]
            # the distinct texts of the positives, each by its first item
            _, first, target = np.unique(codes[p], return_index=True, return_inverse=True)
            candidates = p[first]
            model.eval()
            with torch.no_grad():
                sim = (embed(a) @ embed(candidates).T).float().cpu().numpy()
            model.train()
            if not np.isfinite(sim).all():  # a model gone to NaN ranks nothing
                return 0.0
            anchor = codes[candidates][None, :] == codes[a][:, None]
            anchor[np.arange(len(a)), target] = False
            sim[anchor] = -np.inf  # never the anchor itself (its text)
            true = sim[np.arange(len(a)), target][:, None]
            # ties count half: a collapsed model (all embeddings equal) ranks badly
            rank = 1 + (sim > true).sum(1) + 0.5 * ((sim == true).sum(1) - 1)
            return float((1.0 / rank).mean())

        every = max(1, self.n_steps // EVALUATIONS)
        curve = [(0, held_out_mrr())] if val is not None else []
        # the base weights are kept unless a later evaluation beats them (and,
        # without evaluations, if the loss stops being finite)
        best = {n: v.detach().clone() for n, v in params.items()}
        model.train()
        diverged = 0  # the step whose loss was not finite
        size = min(self.batch_size, len(train))
        losses = []
        steps = progress(range(1, self.n_steps + 1), self.verbose, desc="Fine-tuning",
                         unit="step")
        for step in steps:
            pick = train[rng.choice(len(train), size=size, replace=len(train) < size)]
            a, p = anchors[pick], positives[pick]
            logits = embed(a) @ embed(p).T / TEMPERATURE
            clash = in_batch_clashes(codes[a], codes[p])
            logits = logits.masked_fill(torch.as_tensor(clash, device=logits.device),
                                        float("-inf"))
            loss = torch.nn.functional.cross_entropy(
                logits, torch.arange(size, device=logits.device))
            if not torch.isfinite(loss):
                diverged = step
                steps.stopped(step, f"diverged at step {step}")
                break
            optimiser.zero_grad()
            loss.backward()
            try:
                optimiser.step()
            except RuntimeError as exc:  # AdamW's step overflowing float (an absurd rate)
                if "overflow" not in str(exc):
                    raise
                diverged = step
                steps.stopped(step, f"diverged at step {step}")
                break
            schedule.step()
            losses.append(loss.item())
            if curve and (step % every == 0 or step == self.n_steps):
                curve.append((step, held_out_mrr()))
                if curve[-1][1] > max(m for _, m in curve[:-1]):
                    best = {n: v.detach().clone() for n, v in params.items()}
                elif step - max(curve, key=lambda c: c[1])[0] >= PATIENCE * every:
                    # no better held-out pairs for PATIENCE evaluations
                    steps.stopped(step, "stopped early: no gain on the held-out pairs")
                    break
        if not diverged:  # the last update, which no loss has seen: finite weights and vectors?
            with torch.no_grad():
                last = train[:size]
                if not (all(torch.isfinite(v).all() for v in params.values())
                        and torch.isfinite(embed(np.r_[anchors[last], positives[last]])).all()):
                    diverged = len(losses)
        if curve or diverged:  # back to the best evaluated weights (or the base's)
            with torch.no_grad():
                for n, v in params.items():
                    v.copy_(best[n])
        kept = max(curve, key=lambda c: c[1])[0] if curve else 0 if diverged else len(losses)
        if diverged:
            warnings.warn(
                f"ContrastiveFineTuning: training diverged at step {diverged} (a loss, weight "
                f"or embedding not finite: learning_rate {rate:g} too high for this model?); "
                f"training stopped and "
                f"the weights of step {kept} were kept (0: the base model's). Lower "
                "learning_rate to tune further.", UserWarning, stacklevel=caller_stacklevel())
        if self.method == "lora":
            model = model.merge_and_unload()
        model.eval()
        location.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=location, prefix=".staging-"))
        try:
            for f in Path(path).iterdir():  # tokenizer and sentence-transformers files
                if f.is_file() and not f.name.endswith(_WEIGHTS):
                    shutil.copy2(f, staging / f.name)
                elif f.is_dir() and (f / "config.json").exists():
                    shutil.copytree(f, staging / f.name)  # pooling settings
            model.save_pretrained(staging)
            (staging / "fine_tuning.json").write_text(encoding="utf-8", data=json.dumps({
                "base_model": str(path), "settings": self.get_params(),
                "pairs": int(len(anchors)), "held_out_pairs": 0 if val is None else len(val),
                "steps_run": len(losses), "step_kept": int(kept),
                "held_out_mrr": curve,
                "loss_first_tenth": float(np.mean(losses[:warmup])) if losses else None,
                "loss_last_tenth": float(np.mean(losses[-warmup:])) if losses else None,
                "diverged_at_step": diverged or None,
            }, indent=1, default=str))
            _modes_of_umask(staging)
            try:
                os.replace(staging, directory)
            except OSError:  # another process saved the same key first
                if not (directory / "config.json").exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        logger.info("fine-tuned %s on %d pairs into %s", path, len(anchors), directory)


def _modes_of_umask(root):
    """Give the folder ``root`` and everything in it the modes of the process's umask.

    A tuned model is shared (other processes and accounts load it instead of
    training), but ``mkdtemp`` makes its folder 0700 and ``save_pretrained``
    its weights 0600: another account read it as "gone". The umask is read
    from a folder made with the default mode (``os.umask`` would set it
    process-wide, under other threads' feet).
    """
    probe = Path(root) / ".umask-probe"
    probe.mkdir()
    folder = probe.stat().st_mode & 0o777
    probe.rmdir()
    for path in (Path(root), *Path(root).rglob("*")):
        os.chmod(path, folder if path.is_dir() else folder & 0o666)


@contextlib.contextmanager
def _default_dtype(dtype):
    """torch's default dtype set to ``dtype`` inside, the caller's restored after."""
    import torch

    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def _import_dtensor():
    """Import ``torch.distributed.tensor``, which peft's LoRA layers use unimported.

    peft (0.21 and 0.22 at least) checks each adapted layer's weight against
    ``torch.distributed.tensor.DTensor`` when torch has distributed support,
    without importing the submodule; transformers 5 imports it, transformers
    4 does not, and there the first LoRA tuning of a process raised
    "AttributeError: module 'torch.distributed' has no attribute 'tensor'".
    """
    import torch

    if torch.distributed.is_available():
        try:
            import torch.distributed.tensor  # noqa: F401
        except ImportError:  # torch before 2.5, which peft does not look for
            pass


def _require_peft():
    try:
        imported("peft")
    except ImportError as exc:
        import importlib.util

        if importlib.util.find_spec("peft") is not None:  # installed, but it fails
            raise ImportError(
                f"ContrastiveFineTuning(method='lora'): peft is installed but fails to "
                f"import ({exc}); its releases from 0.14 need transformers 4.43 or newer: "
                "pip install -U \"sklearn-zsrec[tune]\" (or method='full', which needs "
                "nothing more).") from exc
        raise ImportError(
            "ContrastiveFineTuning(method='lora') needs peft: pip install "
            "\"sklearn-zsrec[tune]\" (or method='full', which needs nothing more)."
        ) from exc
