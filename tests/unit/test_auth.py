"""Device-flow login, config files and the auth/whoami/config commands against httpx.MockTransport.

Async tests run on trio's autojump clock (``autojump_clock``), so polling intervals, ``slow_down``
and expiry are measured in virtual seconds and cost no real time.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import trio

from bsmount.auth import cli as auth_cli
from bsmount.auth.device_flow import (
    DEFAULT_SCOPES,
    SLOW_DOWN_STEP,
    AccessDenied,
    AuthError,
    InvalidScope,
    LoginExpired,
    device_login,
    parse_scopes,
)
from bsmount.config import Credentials, read_config_file
from bsmount.config.files import config_file_path, list_configs, write_config
from bsmount.errors import ConfigError

API = "https://api.test"
TOKEN = "0123456789abcdef0123456789abcdef"
DEVICE_CODE = "dev-code-secret-9f8e7d"
SECRET = "client-secret-42"


class FakeOAuth:
    """A scripted device-flow server; ``token_answers`` are served in order (the last repeats)."""

    def __init__(
        self,
        token_answers: list[httpx.Response] | None = None,
        *,
        invalid_scopes: tuple[str, ...] = (),
        name_scope: bool = True,
        interval: float = 1,
        expires_in: float = 600,
    ) -> None:
        self.token_answers = token_answers or [ok_token()]
        self.invalid_scopes = invalid_scopes
        self.name_scope = name_scope
        self.interval = interval
        self.expires_in = expires_in
        self.auth_forms: list[dict[str, str]] = []
        self.token_forms: list[dict[str, str]] = []
        self.poll_times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path == "/v1pre3/oauthv2/deviceauthorization":
            form = _form(request)
            self.auth_forms.append(form)
            for scope in form["scope"].split(","):
                if scope in self.invalid_scopes:
                    described = f"The scope '{scope}' is not valid" if self.name_scope else "bad"
                    return oauth_error("invalid_scope", described)
            return httpx.Response(
                200,
                json={
                    "device_code": DEVICE_CODE,
                    "user_code": "BCDF2345",
                    "verification_uri": "https://basespace.test/oauth/device",
                    "verification_with_code_uri": "https://basespace.test/oauth/device?code=BCDF2345",
                    "expires_in": self.expires_in,
                    "interval": self.interval,
                },
            )
        if request.method == "POST" and path == "/v1pre3/oauthv2/token":
            self.token_forms.append(_form(request))
            self.poll_times.append(trio.current_time())
            index = min(len(self.token_forms), len(self.token_answers)) - 1
            return self.token_answers[index]
        if request.method == "GET" and path == "/v1pre3/users/current":
            if request.headers.get("x-access-token") != TOKEN:
                return httpx.Response(401, json={"ResponseStatus": {"Message": "bad token"}})
            user = {
                "Id": "1463463",
                "Href": "v1pre3/users/1463463",
                "Name": "Ada Lovelace",
                "Email": "ada@example.com",
                "DateCreated": "2015-01-16T15:31:22.0000000Z",
                "DateLastActive": "2017-06-01T12:59:24.0000000Z",
            }
            return httpx.Response(200, json={"Response": user, "ResponseStatus": {}})
        return httpx.Response(404, json={"ResponseStatus": {"Message": "not a path"}})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def _form(request: httpx.Request) -> dict[str, str]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "x-access-token" not in request.headers
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def oauth_error(error: str, description: str = "", status: int = 400) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "error_description": description})


def ok_token() -> httpx.Response:
    return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 3600})


PENDING = oauth_error("authorization_pending", "User has not yet approved the access request")


async def login(fake: FakeOAuth, **kwargs: Any) -> Any:
    kwargs.setdefault("client_secret", SECRET)
    return await device_login(API, transport=fake.transport(), **kwargs)


# --- the flow --------------------------------------------------------------------------------


async def test_pending_then_approved(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth([PENDING, PENDING, ok_token()], interval=2)
    shown: list[str] = []
    start = trio.current_time()
    result = await login(fake, show=lambda a: shown.append(a.verification_with_code_uri))
    assert result.token == TOKEN and result.api_server == API
    assert result.scopes == DEFAULT_SCOPES
    assert shown == ["https://basespace.test/oauth/device?code=BCDF2345"]
    assert fake.auth_forms == [
        {"response_type": "device_code", "client_id": "bsmount", "scope": ",".join(DEFAULT_SCOPES)}
    ]
    assert fake.token_forms[0] == {
        "grant_type": "device",
        "client_id": "bsmount",
        "client_secret": SECRET,
        "code": DEVICE_CODE,
    }
    # three polls, each after one interval
    assert [round(t - start, 3) for t in fake.poll_times] == [2.0, 4.0, 6.0]
    assert TOKEN not in repr(result)


async def test_slow_down_increases_interval(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth([oauth_error("slow_down"), PENDING, ok_token()], interval=1)
    await login(fake)
    gaps = [b - a for a, b in zip(fake.poll_times, fake.poll_times[1:], strict=False)]
    assert gaps == pytest.approx([1 + SLOW_DOWN_STEP, 1 + SLOW_DOWN_STEP])


@pytest.mark.parametrize("spelling", ["access_denied", "AccessDenied"])
async def test_denied(autojump_clock: trio.abc.Clock, spelling: str) -> None:
    fake = FakeOAuth([PENDING, oauth_error(spelling, "User has denied the access request")])
    with pytest.raises(AccessDenied, match="access was denied"):
        await login(fake)
    assert len(fake.token_forms) == 2


async def test_expired_token_answer(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth([PENDING, oauth_error("expired_token")])
    with pytest.raises(LoginExpired, match="expired"):
        await login(fake)


async def test_deadline_of_expires_in(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth([PENDING], interval=1, expires_in=10)
    start = trio.current_time()
    with pytest.raises(LoginExpired, match="not approved within 10 s"):
        await login(fake)
    assert trio.current_time() - start == pytest.approx(10)
    assert 8 <= len(fake.token_forms) <= 10


async def test_timeout_option_shortens_the_wait(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth([PENDING], interval=1, expires_in=1800)
    start = trio.current_time()
    with pytest.raises(LoginExpired, match="within 5 s"):
        await login(fake, timeout=5)
    assert trio.current_time() - start == pytest.approx(5)


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.auth\S*: token poll answered HTTP 503; retrying"
)
async def test_transient_errors_keep_polling(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth([httpx.Response(503, text="<html>busy</html>"), PENDING, ok_token()])
    assert (await login(fake)).token == TOKEN
    assert len(fake.token_forms) == 3


async def test_unknown_client_is_fatal_with_hint(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth([oauth_error("invalid_client", "unknown client")])
    with pytest.raises(AuthError, match="BSMOUNT_CLIENT_ID") as info:
        await login(fake)
    assert SECRET not in str(info.value) and DEVICE_CODE not in str(info.value)


async def test_bad_token_answer(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth([httpx.Response(200, json={"access_token": "has space"})])
    with pytest.raises(AuthError, match="without a usable access_token"):
        await login(fake)


# --- invalid_scope ---------------------------------------------------------------------------


async def test_explicit_invalid_scope_is_refused(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth(invalid_scopes=("FLY GLOBAL",))
    with pytest.raises(InvalidScope, match="'FLY GLOBAL'") as info:
        await login(fake, scopes=("READ GLOBAL", "FLY GLOBAL"))
    assert info.value.scope == "FLY GLOBAL"
    assert len(fake.auth_forms) == 1 and not fake.token_forms


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.auth\S*: scope 'WRITE GLOBAL' refused by the server \(invalid_scope\)",
)
async def test_default_scopes_drop_the_named_scope(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth(invalid_scopes=("WRITE GLOBAL",))
    dropped: list[str] = []
    result = await login(
        fake, drop_invalid_scopes=True, on_drop=lambda scope, _: dropped.append(scope)
    )
    assert dropped == ["WRITE GLOBAL"]
    assert result.scopes == tuple(s for s in DEFAULT_SCOPES if s != "WRITE GLOBAL")
    assert [f["scope"] for f in fake.auth_forms][-1] == ",".join(result.scopes)


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.auth\S*: scope '(MOVETOTRASH GLOBAL|CREATE PROJECTS)' refused by the server",
)
async def test_unnamed_invalid_scope_drops_the_last(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth(invalid_scopes=("MOVETOTRASH GLOBAL", "CREATE PROJECTS"), name_scope=False)
    result = await login(fake, drop_invalid_scopes=True)
    assert result.scopes == ("BROWSE GLOBAL", "READ GLOBAL", "WRITE GLOBAL")
    assert len(fake.auth_forms) == 3


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.auth\S*: scope 'A B' refused by the server \(invalid_scope\)",
)
async def test_nothing_left_to_drop(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeOAuth(invalid_scopes=("A B", "C D"))
    with pytest.raises(InvalidScope):
        await login(fake, scopes=("A B", "C D"), drop_invalid_scopes=True)
    assert [f["scope"] for f in fake.auth_forms] == ["A B,C D", "C D"]


def test_parse_scopes() -> None:
    assert parse_scopes(" read  global,BROWSE GLOBAL,read global ,") == (
        "READ GLOBAL",
        "BROWSE GLOBAL",
    )
    with pytest.raises(AuthError):
        parse_scopes(" , ")


# --- config files ----------------------------------------------------------------------------


def test_write_config_mode_and_format(tmp_path: Path) -> None:
    path = tmp_path / "home" / ".basespace" / "default.cfg"
    write_config(path, "https://api.euc1.sh.basespace.illumina.com", TOKEN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text().splitlines() == [
        "[DEFAULT]",
        "apiServer = https://api.euc1.sh.basespace.illumina.com",
        f"accessToken = {TOKEN}",
        "apiVersion = v1pre3",
    ]
    creds = read_config_file(path)
    assert (creds.api_server, creds.token) == ("https://api.euc1.sh.basespace.illumina.com", TOKEN)
    assert os.listdir(path.parent) == ["default.cfg"]  # no temporary file left


def test_write_config_refuses_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "x.cfg"
    path.write_text("accessToken = old\n")
    with pytest.raises(ConfigError, match="--force"):
        write_config(path, API, TOKEN)
    assert path.read_text() == "accessToken = old\n"
    path.chmod(0o644)
    write_config(path, API, TOKEN, force=True)
    assert read_config_file(path).token == TOKEN
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["x.cfg"]


def test_config_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_file_path("eu") == tmp_path / ".basespace" / "eu.cfg"
    assert config_file_path("/etc/x.cfg") == Path("/etc/x.cfg")
    for bad in ("", ".hidden", "a b", "x;rm"):
        with pytest.raises(ConfigError):
            config_file_path(bad)


def test_list_configs_never_shows_tokens(tmp_path: Path) -> None:
    write_config(tmp_path / "default.cfg", API, TOKEN)
    (tmp_path / "old.cfg").write_text("apiServer = euw2\naccessToken = abcdefgh12345678\n")
    (tmp_path / "empty.cfg").write_text("apiServer = https://api.test\n")
    (tmp_path / "not-a-config.txt").write_text("x")
    rows = list_configs(tmp_path)
    assert [r[0] for r in rows] == ["default", "empty", "old"]
    assert rows[0] == ("default", API, "")
    assert rows[1] == ("empty", API, "no accessToken")
    assert rows[2][1] == "https://api.euw2.sh.basespace.illumina.com"
    assert "chmod 600" in rows[2][2]
    assert TOKEN not in repr(rows) and "abcdefgh" not in repr(rows)


@pytest.mark.parametrize("token", [TOKEN, "a'b\"c$d`e\\f;g|h&i*j(k)", "$(touch${IFS}pwned)"])
def test_config_load_quoting_round_trips_through_bash(tmp_path: Path, token: str) -> None:
    text = auth_cli.format_exports(Credentials("https://api.test/x y", token))
    script = f'{text}\nprintf "%s\\n%s" "$BASESPACE_API_SERVER" "$BASESPACE_ACCESS_TOKEN"'
    out = subprocess.run(
        ["bash", "-c", f'eval "$(cat)"; {script}'],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert out.split("\n") == ["https://api.test/x y", token]
    assert not (tmp_path / "pwned").exists()


# --- the commands ----------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    # run() would replace the root handlers, caplog's included
    monkeypatch.setattr(auth_cli, "setup_logging", lambda *a, **k: None)
    return tmp_path


Run = Callable[..., int]


def cli(fake: FakeOAuth, home: Path) -> Run:
    def run(command: str, *argv: str, env: dict[str, str] | None = None) -> int:
        environ = {"HOME": str(home), **(env or {})}
        return auth_cli.run(command, list(argv), transport=fake.transport(), environ=environ)

    return run


def test_auth_command_end_to_end(
    home: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeOAuth([PENDING, ok_token()], interval=0)
    run = cli(fake, home)
    env = {"BSMOUNT_CLIENT_ID": "my-app", "BSMOUNT_CLIENT_SECRET": SECRET}
    assert run("auth", "-c", "work", "--api-server", API, env=env) == 0
    out, err = capsys.readouterr()
    assert TOKEN not in out + err and DEVICE_CODE not in out + err
    assert "https://basespace.test/oauth/device?code=BCDF2345" in out
    assert "User code: BCDF2345" in out
    assert "Logged in as Ada Lovelace (id 1463463)" in out
    path = home / ".basespace" / "work.cfg"
    assert f"Saved the configuration to {path}" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_config_file(path).token == TOKEN
    assert fake.auth_forms[0]["client_id"] == "my-app"
    assert fake.token_forms[0]["client_secret"] == SECRET
    # a second login to the same name needs --force, and starts no flow
    assert run("auth", "-c", "work", "--api-server", API) == 1
    assert "--force" in capsys.readouterr().err
    assert len(fake.auth_forms) == 1
    assert run("auth", "-c", "work", "--api-server", API, "--force") == 0
    capsys.readouterr()
    # whoami, config list, config load
    assert run("whoami", "-c", "work") == 0
    out = capsys.readouterr().out
    assert "| Name           | Ada Lovelace" in out
    assert "| DateCreated    | 2015-01-16 15:31:22 +0000 UTC" in out
    assert f"| Host           | {API}" in out
    assert run("whoami", "-c", "work", "--json") == 0
    assert json.loads(capsys.readouterr().out)["Email"] == "ada@example.com"
    assert run("config", "list") == 0
    listing = capsys.readouterr().out
    assert "| work" in listing and API in listing and TOKEN not in listing
    assert run("config", "load", "work") == 0
    out = capsys.readouterr().out
    assert out == f"export BASESPACE_API_SERVER={API}\nexport BASESPACE_ACCESS_TOKEN={TOKEN}\n"
    # the token went to stdout of `config load` only: no log record, no stderr
    assert TOKEN not in caplog.text and DEVICE_CODE not in caplog.text
    assert SECRET not in caplog.text
    assert any("device authorization" in r.getMessage() for r in caplog.records)


def test_auth_command_failures(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    denied = FakeOAuth([oauth_error("access_denied")], interval=0)
    assert cli(denied, home)("auth", "--api-server", API) == 1
    assert "access was denied" in capsys.readouterr().err
    assert not (home / ".basespace" / "default.cfg").exists()
    scope = FakeOAuth(invalid_scopes=("FLY GLOBAL",))
    assert cli(scope, home)("auth", "--api-server", API, "--scopes", "read global,fly global") == 1
    assert "'FLY GLOBAL'" in capsys.readouterr().err
    assert cli(scope, home)("auth", "--api-server", "http://example.com") == 1
    assert "https" in capsys.readouterr().err
    assert not scope.auth_forms[1:]  # the http:// server was never contacted


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.auth\S*: scope 'MOVETOTRASH GLOBAL' refused by the server \(invalid_scope\)",
)
def test_auth_default_scopes_fallback_is_reported(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeOAuth(invalid_scopes=("MOVETOTRASH GLOBAL",), interval=0)
    assert cli(fake, home)("auth", "--api-server", API) == 0
    out, err = capsys.readouterr()
    assert "refused scope 'MOVETOTRASH GLOBAL'" in err
    assert "Scopes: BROWSE GLOBAL, READ GLOBAL, WRITE GLOBAL, CREATE PROJECTS\n" in out


def test_whoami_refused_token(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(home / ".basespace" / "old.cfg", API, "f" * 32)
    assert cli(FakeOAuth(), home)("whoami", "-c", "old") == 1
    err = capsys.readouterr().err
    assert "refused" in err and "bsmount auth -c old --force" in err and "f" * 32 not in err


def test_no_token_option_anywhere() -> None:
    for command in ("auth", "whoami", "config"):
        with pytest.raises(SystemExit):
            auth_cli.run(command, ["--access-token", TOKEN])
