"""Credentials: order of sources, config formats, regions, http refusal, permission warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bsmount.config import (
    REGIONS,
    check_api_server_url,
    load_credentials,
    read_config_file,
    resolve_api_server,
)
from bsmount.errors import ConfigError


def test_regions_and_urls() -> None:
    assert resolve_api_server("euc1") == REGIONS["euc1"]
    assert resolve_api_server("https://x.example/") == "https://x.example"
    with pytest.raises(ConfigError):
        resolve_api_server("not a url")


def test_http_only_to_loopback() -> None:
    check_api_server_url("http://127.0.0.1:8080")
    check_api_server_url("http://[::1]:80")
    check_api_server_url("https://api.basespace.illumina.com")
    with pytest.raises(ConfigError, match="https"):
        check_api_server_url("http://api.basespace.illumina.com")


def test_config_with_and_without_header(tmp_path: Path) -> None:
    a = tmp_path / "a.cfg"
    a.write_text("apiServer = https://api.euw2.sh.basespace.illumina.com\naccessToken = abc123\n")
    a.chmod(0o600)
    b = tmp_path / "b.cfg"
    b.write_text(
        "[DEFAULT]\napiServer = https://x.example\naccessToken = t0k\napiVersion = v1pre3\n"
    )
    b.chmod(0o600)
    assert read_config_file(a).api_server.endswith("euw2.sh.basespace.illumina.com")
    assert read_config_file(b).token == "t0k"
    assert "t0k" not in repr(read_config_file(b))


@pytest.mark.expect_log_warnings(
    r"bsmount\.config\.credentials: config file \S+/c\.cfg is accessible by others \(mode 644\)",
)
def test_world_readable_config_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = tmp_path / "c.cfg"
    cfg.write_text("accessToken = secret-token\n")
    cfg.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        read_config_file(cfg)
    assert "chmod 600" in caplog.text
    assert "secret-token" not in caplog.text


def test_order_env_then_default(tmp_path: Path) -> None:
    env = {"BASESPACE_ACCESS_TOKEN": "envtoken", "BASESPACE_API_SERVER": "http://127.0.0.1:9"}
    assert load_credentials(environ=env).token == "envtoken"
    with pytest.raises(ConfigError, match="no credentials"):
        load_credentials(environ={"HOME": str(tmp_path)})


def test_named_config_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".basespace").mkdir()
    cfg = tmp_path / ".basespace" / "work.cfg"
    cfg.write_text("apiServer = https://api.basespace.illumina.com\naccessToken = w\n")
    cfg.chmod(0o600)
    creds = load_credentials("work", "euc1", environ={})
    assert creds.token == "w"
    assert creds.api_server == REGIONS["euc1"]
    with pytest.raises(ConfigError, match="does not exist"):
        load_credentials("missing", environ={})


def test_every_region_of_the_seed_manual_is_an_alias() -> None:
    """USE1 APS2 CAC1 EUC1 APN1 (Tokyo) EUW2, as the bs manual lists them, in any case."""
    for region in ("USE1", "APS2", "CAC1", "EUC1", "APN1", "EUW2"):
        assert resolve_api_server(region) == REGIONS[region.lower()]
    assert resolve_api_server("apn1") == "https://api.apn1.sh.basespace.illumina.com"
