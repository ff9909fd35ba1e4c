"""The console's web server: Streamlit's own app plus the sign-in endpoints that own the session cookie.

Run as `streamlit run app/web.py`: Streamlit finds `app` below and serves app/console.py through it.
A Streamlit script cannot set an HttpOnly cookie, so `/signin` (a plain HTML form) checks the password,
opens a console session in Postgres and sets the cookie; a page asked for without a valid session is
redirected there and comes back to exactly that URL afterwards. With single sign-on (SLAR_OIDC_ENABLED)
Streamlit's st.login runs the provider's round trip; SingleSignOn then trades Streamlit's identity
cookie for the same revocable session and carries the asked-for page across the trip.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import HTMLResponse, RedirectResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.types import ASGIApp, Message, Receive, Scope, Send  # noqa: E402

from app.auth import oidc, sessions  # noqa: E402
from app.auth.service import authenticate, identify  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.db import session_scope  # noqa: E402
from app.errors import DomainError  # noqa: E402

SIGN_IN = sessions.SIGN_IN
SIGN_OUT = sessions.SIGN_OUT
NEXT_COOKIE = oidc.NEXT_COOKIE
Headers = list[tuple[bytes, bytes]]
# Streamlit's own assets, sockets and auth routes, and ours: never behind the sign-in redirect.
OPEN_PREFIXES = ("/_stcore/", "/static/", "/media/", "/component/", "/app/static/", "/auth/", "/oauth2")
OPEN_PATHS = (SIGN_IN, SIGN_OUT, "/favicon.png", "/favicon.ico", "/robots.txt", "/manifest.json")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · SLAR</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f6f7f9; margin: 0; }}
main {{ max-width: 360px; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: 10px;
        box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
h1 {{ margin: 0 0 .25rem; font-size: 1.6rem; }} p {{ color: #555; margin: 0 0 1.2rem; }}
label {{ display: block; font-size: .9rem; margin: .8rem 0 .3rem; }}
input {{ width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem; border: 1px solid #bbb;
         border-radius: 6px; }}
button {{ margin-top: 1.2rem; width: 100%; padding: .7rem; font-size: 1rem; background: #d33; color: #fff;
          border: 0; border-radius: 6px; cursor: pointer; }}
.error {{ color: #b00020; background: #fdecee; padding: .6rem; border-radius: 6px; }}
</style></head>
<body><main>
<h1>SLAR</h1><p>Smart Live Alert &amp; Response: sign in to respond.</p>
{error}
<form method="post" action="{action}">
<input type="hidden" name="next" value="{next}">
<label for="email">E-mail</label><input id="email" name="email" type="email" autocomplete="username"
 value="{email}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password"
 autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></main></body></html>
"""


def _form(next_path: str, email: str = "", error: str = "", status: int = 200) -> HTMLResponse:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = PAGE.format(
        error=message, action=SIGN_IN, next=escape(next_path, quote=True), email=escape(email, quote=True)
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _check_password(email: str, password: str) -> str:
    with session_scope() as session:
        who = authenticate(session=session, email=email, password=password)
        return sessions.start_session(session=session, user_id=who.user_id)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().console_url.startswith("https://")


def _secure_flag(request: Request) -> str:
    return "; Secure" if _secure(request) else ""


def _keep_session(answer: Response, request: Request, cookie: str) -> None:
    """The session cookie, alike for a password and a single sign-on: HttpOnly, expiring with its row."""
    answer.set_cookie(
        sessions.COOKIE_NAME,
        cookie,
        max_age=int(sessions.lifetime().total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


async def sign_in(request: Request) -> Response:
    """GET: the form. POST: check the password, set the session cookie, go back to the page asked for."""
    if request.method == "GET":
        return _form(sessions.safe_next(request.query_params.get("next")))
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    email = fields.get("email", [""])[0]
    next_path = sessions.safe_next(fields.get("next", ["/"])[0])
    try:
        cookie = await run_in_threadpool(_check_password, email, fields.get("password", [""])[0])
    except DomainError as err:
        return _form(next_path, email, f"Sign-in refused: {err.message}.", status=err.status_code)
    answer = RedirectResponse(next_path, status_code=303)
    _keep_session(answer, request, cookie)
    return answer


def _end(cookie: str | None) -> None:
    with session_scope() as session:
        sessions.end_session(session=session, cookie=cookie)


async def sign_out(request: Request) -> Response:
    """End this browser's session in Postgres and drop its cookie."""
    await run_in_threadpool(_end, request.cookies.get(sessions.COOKIE_NAME))
    # With single sign-on, on through Streamlit's sign-out (SingleSignOn), which signs out at the provider.
    answer = RedirectResponse(oidc.LOGOUT if get_settings().oidc_enabled else SIGN_IN, status_code=303)
    answer.delete_cookie(sessions.COOKIE_NAME, path="/")
    return answer


def _valid(cookie: str | None) -> bool:
    with session_scope() as session:
        return sessions.session_user(session=session, cookie=cookie) is not None


def _page_load(scope: Scope) -> bool:
    """A browser asking for a console page (not a script, an image, a socket or an auth route)."""
    path: str = scope["path"]
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return False
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return False
    accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
    return "text/html" in accept


class RequireSession:
    """Sends a browser asking for a console page without a valid session to /signin?next=<that page>."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._guarded(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if await run_in_threadpool(_valid, request.cookies.get(sessions.COOKIE_NAME)):
            await self.app(scope, receive, send)
            return
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        await RedirectResponse(sessions.sign_in_url(target), status_code=303)(scope, receive, send)

    @staticmethod
    def _guarded(scope: Scope) -> bool:
        # Only page loads: a script or image fetch is not a page someone asked for.
        return not get_settings().oidc_enabled and _page_load(scope)


def _swap(info: dict[str, Any], old: str | None) -> str | None:
    """Trade the provider's word for a SLAR session; None when SLAR does not let that person in."""
    with session_scope() as session:
        # A new sign-in in this browser replaces whatever session it held.
        sessions.end_session(session=session, cookie=old)
        try:
            who = identify(session=session, email=info.get("email"))
        except DomainError:
            return None  # Streamlit's cookie stays: the sign-in screen says why and offers a way out
        return sessions.start_session(session=session, user_id=who.user_id)


def _set_cookie_headers(
    request: Request, session_cookie: str | None = None, drop: Iterable[str] = ()
) -> Headers:
    """Set-Cookie headers: the session cookie (or its removal when None), and removals of `drop`."""
    scratch = Response()
    if session_cookie is not None:
        _keep_session(scratch, request, session_cookie)
    else:
        scratch.delete_cookie(sessions.COOKIE_NAME, path="/")
    for name in drop:
        scratch.delete_cookie(name, path="/" if name == NEXT_COOKIE else oidc.cookie_path())
    return [(k, v) for k, v in scratch.raw_headers if k == b"set-cookie"]


class SingleSignOn:
    """With single sign-on: every browser's sign-in becomes a revocable SLAR session, deep links kept.

    Streamlit's callback sets its own identity cookie and lands on the root. At the first page load
    that carries it, the person it names gets a SLAR session cookie (as a password sign-in does) and
    Streamlit's cookies are cleared, so revoking that session signs exactly this browser out. The page
    asked for before sign-in is kept in an HttpOnly slar_next cookie for the round trip and followed
    (then dropped) there. Streamlit's /auth/logout also ends the SLAR session and, with Streamlit's
    cookie gone, is sent on to the provider's sign-out by this middleware.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not get_settings().oidc_enabled or scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] == oidc.LOGOUT:
            await self._sign_out(scope, receive, send)
        elif _page_load(scope):
            await self._page(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _page(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        held = request.cookies.get(sessions.COOKIE_NAME)
        info = oidc.identity(request.cookies)
        if info is None:
            headers: Headers = []
            if not await run_in_threadpool(_valid, held) and (value := oidc.next_cookie_value(here)):
                flags = f"Max-Age={oidc.NEXT_SECONDS}; Path=/; HttpOnly; SameSite=Lax{_secure_flag(request)}"
                headers.append((b"set-cookie", f"{NEXT_COOKIE}={value}; {flags}".encode()))
            await self.app(scope, receive, _with_headers(send, headers))
            return
        cookie = await run_in_threadpool(_swap, info, held)
        used = [NEXT_COOKIE] if NEXT_COOKIE in request.cookies else []
        # Refused: Streamlit's cookie stays so the sign-in screen can name who the provider vouched for.
        headers = (
            _set_cookie_headers(request, cookie, [*oidc.streamlit_cookies(request.cookies), *used])
            if cookie is not None
            else _set_cookie_headers(request, None, used)
        )
        target = oidc.next_target(request.cookies)
        if target is not None and target != here:
            answer = RedirectResponse(target, status_code=303)
            answer.raw_headers.extend(headers)
            await answer(scope, receive, send)
            return
        # No redirect back to this page: the cookies ride on the page itself, so nothing can loop.
        await self.app(scope, receive, _with_headers(send, headers))

    async def _sign_out(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        await run_in_threadpool(_end, request.cookies.get(sessions.COOKIE_NAME))
        if oidc.has_identity(request.cookies):
            # Streamlit's own sign-out clears its cookie and finds the provider's sign-out from it.
            await self.app(scope, receive, _with_headers(send, _set_cookie_headers(request)))
            return
        answer = RedirectResponse(await run_in_threadpool(oidc.provider_logout_url) or "/", status_code=302)
        answer.raw_headers.extend(_set_cookie_headers(request, None, oidc.streamlit_cookies(request.cookies)))
        await answer(scope, receive, send)


def _with_headers(send: Send, headers: Headers) -> Send:
    if not headers:
        return send

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *headers]}
        await send(message)

    return sending


sessions.enable_cookie_sign_in()
app = st.App(
    Path(__file__).resolve().parent / "console.py",
    # With SLAR_OIDC_CLIENT_ID set, Streamlit's [auth] comes from SLAR's settings, not a secrets file.
    secrets=oidc.auth_secrets(get_settings()),
    routes=[
        Route(SIGN_IN, sign_in, methods=["GET", "POST"]),
        Route(SIGN_OUT, sign_out, methods=["GET", "POST"]),
    ],
    middleware=[Middleware(RequireSession), Middleware(SingleSignOn)],
)
