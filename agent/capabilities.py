"""What a tool may do, decided by its declaration, and names compared the way an attacker can't dodge.

A tool is read-only only when declared so (built-in tools by their definition, MCP tools by the
server's readOnlyHint *and* the operator's allow entry). Names and arguments are folded before any
rule looks at them: NFKC, combining marks and zero-width characters dropped, look-alike letters mapped
to Latin, case and separators ignored, so `Delete_Database`, `delete-database`, `DeleteDatabase` and
`dеlete_database` (Cyrillic е) are one name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

# The look-alikes seen in practice (Unicode's confusables.txt, Cyrillic and Greek letters that render
# as Latin ones); NFKC already folds full-width and mathematical letters.
CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
        "ԛ": "q", "ԝ": "w", "һ": "h", "ɡ": "g", "ı": "i", "ℓ": "l",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
        "Т": "T", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J",
        "α": "a", "ο": "o", "ρ": "p", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "τ": "t", "υ": "u",
        "Α": "A", "Β": "B", "Ε": "E", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
        "Ρ": "P", "Τ": "T", "Χ": "X", "Υ": "Y", "Ζ": "Z",
    }
)  # fmt: skip
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
SAFE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
DESTRUCTIVE_WORDS = frozenset(
    {"delete", "destroy", "drop", "terminate", "purge", "truncate", "wipe", "erase", "remove", "kill", "rm"}
)


@dataclass(frozen=True)
class ToolInfo:
    """One tool as its owner declared it."""

    name: str
    read_only: bool = False
    destructive: bool = False
    origin: str = "builtin"


def fold(text: str) -> str:
    """Text with compatibility forms, accents, invisible characters and look-alike letters folded away."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.translate(CONFUSABLES)


def words(text: str) -> list[str]:
    """The lower-case words of a name or value: split at separators and digits, and also at camelCase
    humps (both readings, so `DeleteDatabase` has `delete` and `PrOd` still has `prod`)."""
    folded = fold(text)
    plain = [w.lower() for w in re.findall(r"[A-Za-z]+", folded)]
    humps = [w.lower() for w in re.findall(r"[A-Za-z]+", _CAMEL.sub(" ", folded))]
    return plain + [w for w in humps if w not in plain]


def normalise(name: str) -> str:
    """A name's comparison key: folded, lower-case, separators dropped (`Drop-Table` → `droptable`)."""
    return "".join(re.findall(r"[a-z0-9]+", fold(name).lower()))


def matches(name: str, pattern: str) -> bool:
    """Glob match on comparison keys (`drop_*` matches `DROP_TABLE` and `dropTable`)."""
    key = "*".join(normalise(part) for part in pattern.split("*"))
    return fnmatchcase(normalise(name), key)


def is_destructive(info: ToolInfo) -> bool:
    """Declared destructive, or named with a destructive verb anywhere in its name."""
    return info.destructive or any(w in DESTRUCTIVE_WORDS for w in words(info.name))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def names_environment(arguments: Mapping[str, Any], environments: Iterable[str]) -> str | None:
    """The first guarded environment an argument key or value names as a whole word (`prod-db`, `ΡRD`)."""
    guarded = {normalise(e) for e in environments if normalise(e)}
    for text in _strings(arguments):
        for word in words(text):
            if word in guarded:
                return word
    return None


def look_alike(name: str, known: Iterable[str]) -> str | None:
    """The known tool a name imitates (same comparison key, different spelling), if any."""
    key = normalise(name)
    return next((k for k in known if k != name and normalise(k) == key), None)
