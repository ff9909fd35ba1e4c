"""The console process: Streamlit's own command line, with the pages' heavy imports warmed meanwhile.

`slar up` and `slar serve console` run `python app/console_process.py run app/web.py ...` rather than
`python -m streamlit run ...`: the same server, except that a background thread imports what the
pages need while it starts, so the first visit of Analytics or Agent does not pay for it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: put the project root (not app/) first on sys.path, as app/console.py does.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from streamlit.web.cli import main  # noqa: E402

from app.warmup import warm_in_background  # noqa: E402

if __name__ == "__main__":
    warm_in_background()
    # The program name Streamlit sees is its own, as with `python -m streamlit`.
    main(prog_name="streamlit")
