"""The console process: Streamlit's own command line, with the pages' heavy imports warmed meanwhile.

`slar up` and `slar serve console` run `python app/console_process.py run app/web.py ...` rather than
`python -m streamlit run ...`: the same server, except that a background thread imports what the
pages need while it starts, so the first visit of Analytics or Agent does not pay for it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

# Run as a script: put the project root (not app/) first on sys.path, as app/console.py does.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from streamlit.web.cli import main  # noqa: E402

from app.warmup import log, warm_in_background  # noqa: E402


def _say_when_warm() -> None:
    """The warm-up's one line on stderr, beside Streamlit's own, without raising every library's level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


if __name__ == "__main__":
    _say_when_warm()
    warm_in_background()
    # The program name Streamlit sees is its own, as with `python -m streamlit`.
    main(prog_name="streamlit")
