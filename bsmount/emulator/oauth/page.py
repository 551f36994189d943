"""The device-flow approval page of the emulator: ``GET``/``POST /oauth/device``.

``GET /oauth/device`` without a code shows a form asking for one; with ``?code=USER_CODE`` it
shows the requesting client, the scopes asked for, a choice of the emulator's users to sign in
as, and Approve / Deny buttons, which ``POST /oauth/device`` (form ``user_code``, ``user``,
``action=approve|deny``). Answers are small HTML pages: 200 on success, 400 for a malformed form,
404 for an unknown code or user, 409 for a code already decided, 410 for an expired one. Every
value shown is HTML-escaped. The real service's page needs a login; the emulator trusts the
choice of user (it has no real security, see docs/emulator.md).
"""

from __future__ import annotations

import html
import time
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bsmount.emulator.oauth.device_flow import DecisionError, decide, find_grant
from bsmount.emulator.state.account import EmulatorState

__all__ = ["device_page", "device_page_post"]

_TITLE = "BaseSpace emulator: device login"


def _page(body: str, status: int = 200) -> Response:
    text = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_TITLE}</title></head>\n<body>\n<h1>{_TITLE}</h1>\n{body}\n</body></html>\n"
    )
    return HTMLResponse(text, status_code=status, headers={"Cache-Control": "no-store"})


def _ask_code(message: str = "", status: int = 200) -> Response:
    note = f"<p>{html.escape(message)}</p>\n" if message else ""
    return _page(
        f'{note}<form method="get" action="/oauth/device">\n'
        '<label>Code shown by your device: <input name="code" autofocus></label>\n'
        '<button type="submit">Continue</button>\n</form>',
        status,
    )


async def device_page(request: Request) -> Response:
    """The approval form for ``?code=``, or a form asking for the code."""
    state: EmulatorState = request.app.state.emulator
    code = request.query_params.get("code", "").strip()
    if not code:
        return _ask_code()
    grant = find_grant(state, code)
    if grant is None:
        return _ask_code(f"No device is waiting with the code {code}.", 404)
    if grant.expired(time.monotonic()):
        return _ask_code(f"The code {grant.user_code} has expired; start again.", 410)
    if grant.status != "pending":
        return _page(
            f"<p>The code {html.escape(grant.user_code)} was already {grant.status}.</p>", 409
        )
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in grant.scopes)
    users = "".join(
        f'<option value="{html.escape(u.id)}">{html.escape(u.name)} ({html.escape(u.email)})'
        "</option>"
        for u in state.model.users.values()
    )
    return _page(
        f"<p>The application <code>{html.escape(grant.client_id)}</code> asks for access to your"
        f" BaseSpace account (code <strong>{html.escape(grant.user_code)}</strong>):</p>\n"
        f"<ul>{scopes}</ul>\n"
        '<form method="post" action="/oauth/device">\n'
        f'<input type="hidden" name="user_code" value="{html.escape(grant.user_code)}">\n'
        f'<label>Sign in as <select name="user">{users}</select></label>\n'
        '<button type="submit" name="action" value="approve">Approve</button>\n'
        '<button type="submit" name="action" value="deny">Deny</button>\n</form>'
    )


async def device_page_post(request: Request) -> Response:
    """Approve or deny, from the form above."""
    state: EmulatorState = request.app.state.emulator
    raw = await request.body()
    fields = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    code = fields.get("user_code", "").strip()
    action = fields.get("action", "").strip().lower()
    if not code or action not in ("approve", "deny"):
        return _ask_code("The form needs a user_code and action=approve or action=deny.", 400)
    try:
        grant = decide(state, code, action == "approve", fields.get("user") or None)
    except DecisionError as exc:
        return _page(f"<p>{html.escape(exc.message)}</p>", exc.status)
    if grant.status == "approved":
        return _page("<p>Access approved. You can return to your terminal.</p>")
    return _page("<p>Access denied. The device will not get a token.</p>")
