"""The device and the precision a text model runs in (``"auto"``)."""

import logging

import numpy as np

from ._locks import Lock

logger = logging.getLogger("sklearn_zsrec")

_PRECISIONS = {}  # (path, files stamp, device) -> precision chosen by "auto"; one per process
_PRECISIONS_LOCK = Lock()


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


def _auto_device():
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def _cosine(a, b):
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


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
    with _PRECISIONS_LOCK:
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
    with _PRECISIONS_LOCK:
        return _PRECISIONS.setdefault(key, choice)
