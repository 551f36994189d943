"""The command line a newcomer meets: ``--version``, every option's help with its default and
unit (read from ``config.Defaults``), ``-o`` mount options, and one-line errors."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from bsmount import __version__
from bsmount.cli import main
from bsmount.config import Defaults, MiB
from bsmount.errors import ConfigError
from bsmount.mount.cli import _parser
from bsmount.mount.options import expand_options


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([flag]) == 0
    assert capsys.readouterr().out == f"bsmount {__version__}\n"


def test_top_level_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("mount", "unmount", "status", "auth", "whoami", "config", "emulator"):
        assert f"\n  {command} " in out
    assert "--version" in out


@pytest.mark.parametrize("command", ["mount", "unmount", "status"])
def test_every_option_says_what_it_does_and_its_default(command: str) -> None:
    parser = _parser(command)
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{action.option_strings or action.dest} has no help"
        if action.option_strings:
            assert "default" in action.help, f"{action.option_strings}: no default named"


def test_help_reads_defaults_with_units() -> None:
    mount_help = " ".join(_parser("mount").format_help().split())  # unwrapped
    assert f"(default: {Defaults.metadata_ttl} s)" in mount_help
    assert f"(default: {Defaults.io_timeout} s)" in mount_help
    assert f"(default: {Defaults.cache_bytes // MiB} MiB)" in mount_help
    for name in ("cache_size", "metadata_ttl", "io_timeout", "allow_other", "uid", "gid"):
        assert name in mount_help  # the -o names
    status_help = " ".join(_parser("status").format_help().split())
    assert f"(default: {Defaults.status_interval} s)" in status_help


def test_help_through_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bsmount", "mount", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "--cache-size MIB" in done.stdout and "mount -t fuse.bsmount" in done.stdout


def test_mount_options_become_long_options() -> None:
    parser = _parser("mount")
    argv = expand_options(
        ["/mnt", "-o", "_netdev,nofail,ro,cache_size=128,metadata-ttl=5,allow_other,nosuid",
         "-ouid=0,gid=0,x-systemd.automount,comment=x,nodev"],
        parser,
    )  # fmt: skip
    assert argv == [
        "/mnt", "--read-only", "--cache-size", "128", "--metadata-ttl", "5", "--allow-other",
        "--uid", "0", "--gid", "0", "--kernel-options", "nosuid,nodev",
    ]  # fmt: skip
    args = parser.parse_args(argv)
    assert (args.read_only, args.cache_size, args.metadata_ttl, args.uid) == (True, 128, 5.0, 0)
    assert args.kernel_options == "nosuid,nodev"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("nonsense", "unknown mount option 'nonsense'"),
        ("io_timeout", "needs a value (io_timeout=SECONDS)"),
        ("allow_other=1", "takes no value"),
        ("config=work", "unknown mount option 'config'"),
        ("foreground", "unknown mount option 'foreground'"),
        ("access_token=abcdefgh", "would show in `ps`"),
    ],
)
def test_bad_mount_options(options: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expand_options(["/mnt", "-o", options], _parser("mount"))


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mount", "/nonexistent-dir", "-o", "bogus"]) == 1
    err = capsys.readouterr().err
    assert err == "bsmount mount: unknown mount option 'bogus' (bsmount mount --help lists them)\n"
