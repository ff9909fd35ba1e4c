"""The console's web server: Streamlit's own app plus the sign-in endpoints that own the session cookie.

Run as `streamlit run app/web.py`: Streamlit finds `app` below and serves app/console.py through it.
A Streamlit script cannot set an HttpOnly cookie, so `/signin` (a plain HTML form) checks the password,
opens a console session in Postgres and sets the cookie; a page asked for without a valid session is
redirected there and comes back to exactly that URL afterwards. With single sign-on (SLAR_OIDC_ENABLED)
Streamlit's st.login owns the sign-in and its cookie; KeepDeepLink carries the asked-for page across
the provider's round trip.
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path
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
from app.auth.service import authenticate  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.db import session_scope  # noqa: E402
from app.errors import DomainError  # noqa: E402

SIGN_IN = sessions.SIGN_IN
SIGN_OUT = sessions.SIGN_OUT
NEXT_COOKIE = oidc.NEXT_COOKIE
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
    answer.set_cookie(
        sessions.COOKIE_NAME,
        cookie,
        max_age=int(sessions.lifetime().total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return answer


def _end(cookie: str | None) -> None:
    with session_scope() as session:
        sessions.end_session(session=session, cookie=cookie)


async def sign_out(request: Request) -> Response:
    """End this browser's session in Postgres and drop its cookie."""
    await run_in_threadpool(_end, request.cookies.get(sessions.COOKIE_NAME))
    answer = RedirectResponse(SIGN_IN, status_code=303)
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


class KeepDeepLink:
    """With single sign-on: remember the page asked for before sign-in, and go there once signed in.

    Streamlit's provider callback always lands on the root, so the page is kept in an HttpOnly
    slar_next cookie for the round trip and followed (then dropped) at the first page load that
    carries Streamlit's identity cookie.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not get_settings().oidc_enabled or not _page_load(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        flags = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if _secure(request) else "")
        extra: str | None = None
        if oidc.has_identity(request.cookies):
            target = oidc.next_target(request.cookies)
            if target is not None and target != here:
                answer = RedirectResponse(target, status_code=303)
                answer.delete_cookie(NEXT_COOKIE, path="/")
                await answer(scope, receive, send)
                return
            if NEXT_COOKIE in request.cookies:  # followed (or not worth following): used up
                extra = f"{NEXT_COOKIE}=; Max-Age=0{flags}"
        elif (value := oidc.next_cookie_value(here)) is not None:
            extra = f"{NEXT_COOKIE}={value}; Max-Age={oidc.NEXT_SECONDS}{flags}"
        await self.app(scope, receive, self._with_cookie(send, extra.encode()) if extra else send)

    @staticmethod
    def _with_cookie(send: Send, cookie: bytes) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
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
    middleware=[Middleware(RequireSession), Middleware(KeepDeepLink)],
)
