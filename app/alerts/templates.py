"""Per-integration templates in a sandboxed Jinja: grouping key, title, severity, resolve and more.

A template sees `alert` (the parsed alert: summary, severity, labels, annotations, raw, ...) and
`payload` (the whole body the source sent). Rendering runs in a jinja2 ImmutableSandboxedEnvironment
(no attribute escapes, no mutation), bounded in output size and in time: every `range` step, every
output chunk and every `*`/`**`/`+` checks a deadline, so an endless loop stops within the limit.
A template that fails, times out or renders something unusable falls back to the source's own value
for that alert, and the failure is kept on the alert (alerts.template_errors); it never fails the
delivery.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.alerts.events import AlertEvent
from app.errors import Invalid

NAMES = (
    "grouping_key",
    "title",
    "description",
    "severity",
    "resolve_condition",
    "acknowledge_condition",
    "source_link",
)
SEVERITIES = ("critical", "error", "warning", "info")
MAX_SOURCE = 10_000  # characters of one template
MAX_OUTPUT = 10_000  # characters one template may render
MAX_RANGE = 100_000
MAX_SEQUENCE = 100_000  # length of a string or list a `*` or `+` may build
TEMPLATE_S = 0.05  # one template, one alert
BUDGET_S = 1.0  # all templates of one delivery: past it, the rest fall back at once
TRUE = ("true", "1", "yes", "on")

_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("template_deadline", default=0.0)


class TemplateTimeout(Exception):
    """A template ran past its deadline."""


def _check() -> None:
    if time.perf_counter() > _deadline.get():
        raise TemplateTimeout("timed out")


def _guarded_range(*args: int) -> Iterable[int]:
    span = range(*args)
    if len(span) > MAX_RANGE:
        raise OverflowError(f"range longer than {MAX_RANGE}")
    for value in span:
        _check()
        yield value


def _too_big(value: Any) -> bool:
    return isinstance(value, str | list | tuple | bytes) and len(value) > MAX_SEQUENCE


def _product_size(left: Any, right: Any) -> int:
    """The length `left * right` would have when it repeats a string or list (else 0)."""
    seq, times = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(seq, str | list | tuple) and isinstance(times, int):
        return len(seq) * times
    return 0


class _Sandbox(ImmutableSandboxedEnvironment):
    # Immutable: the alert's own dicts are handed in, so no template may change them.
    intercepted_binops = frozenset({"*", "**", "+"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check()
        if operator == "**" and isinstance(right, int | float) and abs(right) > 100:
            raise OverflowError("exponent too large")
        if operator == "*" and _product_size(left, right) > MAX_SEQUENCE:
            raise OverflowError("result too large")
        result = super().call_binop(context, operator, left, right)
        if _too_big(result):
            raise OverflowError("result too large")
        return result


_ENV = _Sandbox(autoescape=False, keep_trailing_newline=False)
_ENV.globals["range"] = _guarded_range


@lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    return _ENV.from_string(source)


@lru_cache(maxsize=512)
def _expression(source: str) -> Callable[..., Any]:
    return _ENV.compile_expression(source, undefined_to_none=True)


def check_source(source: Any, where: str) -> str:
    """A template's text, compiled once to prove it parses; a 422 naming `where` otherwise."""
    if not isinstance(source, str) or len(source) > MAX_SOURCE:
        raise Invalid(f"{where} must be a string of at most {MAX_SOURCE} characters", field=where)
    try:
        _compiled(source)
    except TemplateError as err:
        raise Invalid(f"{where} is not a valid template: {err}", field=where) from None
    return source


def check_expression(source: Any, where: str) -> str:
    if not isinstance(source, str) or not source.strip() or len(source) > MAX_SOURCE:
        raise Invalid(f"{where} must be a Jinja expression of at most {MAX_SOURCE} characters", field=where)
    try:
        _expression(source)
    except TemplateError as err:
        raise Invalid(f"{where} is not a valid expression: {err}", field=where) from None
    return source


def check_templates(raw: Any) -> dict[str, str]:
    """Templates as the console or API sends them: {name: source}; empty sources are dropped."""
    if not isinstance(raw, Mapping):
        raise Invalid("templates must be an object of name → template", field="templates")
    out = {}
    for name, source in raw.items():
        if name not in NAMES:
            raise Invalid(f"templates.{name} is not one of {', '.join(NAMES)}", field=f"templates.{name}")
        if source is None or (isinstance(source, str) and not source.strip()):
            continue
        out[name] = check_source(source, f"templates.{name}")
    return out


def context_of(event: AlertEvent, payload: Any) -> dict[str, Any]:
    """What a template sees (shallow: the dicts are the event's own, read only through the sandbox)."""
    alert = {
        "fingerprint": event.fingerprint,
        "dedup_key": event.dedup_key,
        "action": event.action,
        "summary": event.summary,
        "title": event.summary,
        "severity": event.severity,
        "source": event.source,
        "labels": event.labels,
        "annotations": event.annotations,
        "links": event.links,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "raw": event.raw,
    }
    return {"alert": alert, "payload": payload}


def render(source: str, context: Mapping[str, Any], limit_s: float = TEMPLATE_S) -> str:
    """Render one template within `limit_s` and MAX_OUTPUT characters (raises on failure)."""
    token = _deadline.set(time.perf_counter() + limit_s)
    try:
        size, parts = 0, []
        for chunk in _compiled(source).generate(context):
            _check()
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise OverflowError(f"output longer than {MAX_OUTPUT} characters")
            parts.append(chunk)
        return "".join(parts).strip()
    finally:
        _deadline.reset(token)


def expression_true(source: str, context: Mapping[str, Any], limit_s: float = TEMPLATE_S) -> bool:
    """Whether a Jinja expression is true for the alert; False when it fails or times out."""
    token = _deadline.set(time.perf_counter() + limit_s)
    try:
        return bool(_expression(source)(**context))
    except Exception:  # noqa: BLE001 - a route that cannot be evaluated does not match
        return False
    finally:
        _deadline.reset(token)


def _why(err: Exception) -> str:
    if isinstance(err, TemplateTimeout):
        return f"timed out after {TEMPLATE_S * 1000:g} ms"
    return f"{type(err).__name__}: {err}"[:300]


def _apply_one(name: str, text: str, event: AlertEvent) -> AlertEvent:
    """The event with one rendered template applied; ValueError when the text is unusable."""
    if name == "grouping_key":
        return replace(event, dedup_key=text[:500]) if text else event
    if name == "title":
        return replace(event, summary=text[:1000]) if text else event
    if name == "description":
        return replace(event, annotations={**event.annotations, "description": text}) if text else event
    if name == "severity":
        if not text:
            return event
        if text.lower() not in SEVERITIES:
            raise ValueError(f"rendered {text[:40]!r}, not one of {', '.join(SEVERITIES)}")
        return replace(event, severity=text.lower())  # type: ignore[arg-type]
    if name in ("resolve_condition", "acknowledge_condition"):
        if text.lower() not in TRUE:
            return event
        return replace(event, action="resolve" if name == "resolve_condition" else "acknowledge")
    if not text:
        return event
    if not text.startswith(("http://", "https://")):
        raise ValueError("rendered a link that is not http(s)")
    return replace(event, links=[{"href": text[:2000], "text": "Source"}, *event.links])


@dataclass(frozen=True)
class Rendered:
    events: list[AlertEvent]
    failures: dict[str, dict[str, str]]  # fingerprint → {template name: why}


def apply_templates(
    templates: Mapping[str, str] | None, events: Sequence[AlertEvent], payload: Any
) -> Rendered:
    """Every event with the integration's templates applied; failures fall back per template."""
    if not templates:
        return Rendered(list(events), {})
    budget_end = time.perf_counter() + BUDGET_S
    out, failures = [], {}
    for event in events:
        context = context_of(event, payload)
        errors: dict[str, str] = {}
        for name in NAMES:
            source = templates.get(name)
            if not source:
                continue
            if time.perf_counter() > budget_end:
                errors[name] = f"skipped: this delivery's {BUDGET_S:g} s template budget was used up"
                continue
            try:
                event = _apply_one(name, render(source, context), event)
            except Exception as err:  # noqa: BLE001 - any failure falls back to the source's value
                errors[name] = _why(err)
        out.append(event)
        if errors:
            failures[event.fingerprint] = errors
    return Rendered(out, failures)


def preview(
    templates: Mapping[str, str], event: AlertEvent, payload: Any
) -> tuple[AlertEvent, dict[str, str]]:
    """What the templates make of one stored alert (the console's live preview)."""
    rendered = apply_templates(templates, [event], payload)
    return rendered.events[0], rendered.failures.get(event.fingerprint, {})
