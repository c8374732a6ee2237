"""Print constraints that pin the package's dependencies to their declared minimums.

Each ``name>=X.Y`` of ``[project] dependencies`` in pyproject.toml becomes
``name==X.Y.*`` (the oldest minor line, its newest patch), and ``name>=X.Y.Z``
``name==X.Y.Z``; where the ``test`` extra asks more of the same package
(``transformers>=4.43`` for peft), its bound. torch is left out: its CPU or
CUDA build is installed apart. One per line, for pip's ``-c``:
``python .ci/min_deps.py > min-deps.txt && pip install -e ".[test]" -c min-deps.txt``.
Reads the file with regular expressions, so that it runs on Python 3.10 (no
tomllib).
"""

import re
from pathlib import Path

text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()


def bounds(block):
    return {name.lower(): tuple(int(p) for p in version.split("."))
            for name, version in re.findall(r'^\s*"([A-Za-z0-9_.-]+)>=([0-9.]+)"', block,
                                            flags=re.M)}


core = bounds(re.search(r"^dependencies = \[(.*?)^\]", text, flags=re.S | re.M).group(1))
test = bounds(re.search(r"^test = \[(.*?)^\]", text, flags=re.S | re.M).group(1))
for name, version in core.items():
    if name == "torch":
        continue
    version = max(version, test.get(name, version))
    pin = ".".join(map(str, version))
    print(f"{name}=={pin}" if len(version) > 2 else f"{name}=={pin}.*")
