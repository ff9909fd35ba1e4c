"""Import what the console's pages import, once per console process, before the first person asks.

Analytics pulls in DuckDB and Polars expressions, the agent page AutoGen: seconds of imports that the
first visit of each page would otherwise pay. The list is read from the pages' own import statements,
so a page that gains a heavy dependency is warmed without anyone remembering to add it here.
"""

from __future__ import annotations

import ast
import importlib
import logging
import threading
import time
from pathlib import Path

PAGES = Path(__file__).resolve().parent.parent / "pages"
log = logging.getLogger("slar.console.warmup")
# The line the console logs once the pages' modules are in: the console is fully started from then on.
WARM_DONE = "imported the pages' modules"


# One import statement as the pages write it: `import a.b` is ("a.b", ()), `from a import b` is ("a", ("b",)).
Imported = tuple[str, tuple[str, ...]]


def page_imports(pages: Path = PAGES) -> list[Imported]:
    """The absolute imports of the page scripts' top level, each once, in first-seen order."""
    seen: dict[Imported, None] = {}
    for script in sorted(pages.glob("*.py")):
        for node in ast.parse(script.read_text(), filename=str(script)).body:
            if isinstance(node, ast.Import):
                seen.update(dict.fromkeys((alias.name, ()) for alias in node.names))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
                seen[(str(node.module), tuple(alias.name for alias in node.names))] = None
    return list(seen)


def _load(module: str, names: tuple[str, ...]) -> None:
    """What the statement does: import the module, and each name that is a submodule, not an attribute."""
    loaded = importlib.import_module(module)
    for name in names:
        if name != "*" and not hasattr(loaded, name):
            importlib.import_module(f"{module}.{name}")


def warm(imports: list[Imported]) -> list[str]:
    """Run each import; returns the modules that failed (the page that needs one shows its own error)."""
    failed = []
    start = time.monotonic()
    for module, names in imports:
        try:
            _load(module, names)
        except Exception:  # a broken optional dependency must not stop the console from starting
            log.debug("pre-import of %s failed", module, exc_info=True)
            failed.append(module)
    elapsed = time.monotonic() - start
    log.info("%s in %.1f s (%d imports, %d failed)", WARM_DONE, elapsed, len(imports), len(failed))
    return failed


def warm_in_background(imports: list[Imported] | None = None) -> threading.Thread:
    """Start the imports on a daemon thread; the server starts meanwhile and never waits for them."""
    thread = threading.Thread(
        target=warm, args=(page_imports() if imports is None else imports,), name="slar-warmup", daemon=True
    )
    thread.start()
    return thread
