"""Print the shell block of README.md that follows ``<!-- ci: NAME -->``.

CI runs the README's own set-up and test commands, as written, so that a
missing install step in the README fails CI instead of hiding behind
installs of CI's own. Usage: ``python3 .ci/readme_block.py NAME``.
"""

import re
import sys
from pathlib import Path

name = sys.argv[1]
readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
found = re.search(
    rf"<!-- ci: {re.escape(name)} -->\s*```bash\n(.*?)```", readme, flags=re.S
)
if found is None:
    sys.exit(f"README.md has no '<!-- ci: {name} -->' marker before a ```bash block")
print(found.group(1).strip())
