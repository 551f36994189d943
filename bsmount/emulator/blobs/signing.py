"""Signed content URLs of the emulator and the opaque blob keys in their paths.

:func:`sign_content_url` makes URLs shaped like BaseSpace's pre-signed S3 URLs
(basespace-api.md §6.2) but pointing at the emulator's blob route
(:mod:`bsmount.emulator.blobs.route`): ``{base}/s3/<32 hex key>/<quoted name>
?AWSAccessKeyId=..&Expires=<epoch>&Signature=..&response-content-disposition=..``.
The signature (:func:`signature`) is an HMAC-SHA256 (urlsafe base64) over the method, the path,
the expiry and the ``response-*`` overrides, so HEAD (signed for GET) gets a signature mismatch
like on S3. :func:`blob_key` and :func:`file_id_for_key` map file ids to the opaque 32-hex keys and
back.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import math
import time
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "access_key_id",
    "blob_key",
    "file_id_for_key",
    "sign_content_url",
    "signature",
]

# Seconds between the JSON ``Expires`` and the S3 ``Expires`` (real traffic: 2 minutes), capped at
# 1% of the lifetime so that short test lifetimes stay meaningful.
_EXPIRES_MARGIN = 120.0
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# key -> file id for ids the key cannot encode (not decimal, or 20+ digits); filled on signing.
_KEY_TO_FILE: dict[str, str] = {}
_FEISTEL_ROUNDS = 4


def _hmac(key: bytes, message: str | bytes) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.new(key, data, hashlib.sha256).digest()


def _feistel(block: bytes, key: bytes, decrypt: bool = False) -> bytes:
    """A keyed permutation of 16 bytes (4-round Feistel network over HMAC-SHA256)."""
    left, right = block[:8], block[8:]
    rounds = range(_FEISTEL_ROUNDS)
    if not decrypt:
        for i in rounds:
            mask = _hmac(key, bytes([i]) + right)[:8]
            left, right = right, bytes(a ^ b for a, b in zip(left, mask, strict=True))
    else:
        for i in reversed(rounds):
            mask = _hmac(key, bytes([i]) + left)[:8]
            left, right = bytes(a ^ b for a, b in zip(right, mask, strict=True)), left
    return left + right


def _tag(file_id: str, key: bytes) -> bytes:
    return _hmac(key, f"blob-key:{file_id}")[:7]


@functools.lru_cache(maxsize=1 << 18)
def blob_key(file_id: str, key: bytes) -> str:
    """The 32-hex path prefix of a file's blob URL: stable for a signing key and opaque.

    Decimal ids below 20 digits (all BaseSpace file ids) are encrypted into the key, so it decodes
    without any state and URLs survive an emulator restart with the same signing key; other ids
    are remembered in a process-wide table. Memoized: a listing of 1,000 files with signed URLs
    would otherwise spend a quarter of its time here.
    """
    if file_id.isdecimal() and file_id.isascii() and len(file_id) < 20:
        plain = int(file_id).to_bytes(8, "big") + bytes([len(file_id)]) + _tag(file_id, key)
        return _feistel(plain, key).hex()
    key_hex = _hmac(key, f"key:{file_id}")[:16].hex()
    _KEY_TO_FILE[key_hex] = file_id
    return key_hex


def file_id_for_key(key_hex: str, key: bytes) -> str | None:
    """The file id a blob key stands for, or None if the key is not one of ours."""
    if key_hex in _KEY_TO_FILE:
        return _KEY_TO_FILE[key_hex]
    try:
        block = bytes.fromhex(key_hex)
    except ValueError:
        return None
    if len(block) != 16:
        return None
    plain = _feistel(block, key, decrypt=True)
    digits = plain[8]
    if not 1 <= digits < 20:
        return None
    file_id = str(int.from_bytes(plain[:8], "big")).zfill(digits)
    if len(file_id) != digits or not hmac.compare_digest(plain[9:], _tag(file_id, key)):
        return None
    return file_id


@functools.lru_cache(maxsize=16)
def access_key_id(key: bytes) -> str:
    """The ``AWSAccessKeyId`` of URLs signed with ``key``."""
    digest = base64.b32encode(_hmac(key, "access-key-id")).decode("ascii")
    return "AKIA" + digest[:16]


def signature(key: bytes, method: str, path: str, expires: str, params: dict[str, str]) -> str:
    """The ``Signature`` of a request: HMAC-SHA256 over method, path, expiry and ``response-*``."""
    overrides = "&".join(f"{k}={params[k]}" for k in sorted(params) if k.startswith("response-"))
    message = f"{method.upper()}\n{path}\n{expires}\n{overrides}"
    return base64.urlsafe_b64encode(_hmac(key, message)).decode("ascii").rstrip("=")


def _disposition(file_name: str) -> str:
    """``filename=<name>`` as BaseSpace asks S3 for; RFC 6266 ``filename*`` for non-ASCII."""
    if file_name.isascii() and '"' not in file_name:
        return f"filename={file_name}"
    return f"filename*=UTF-8''{quote(file_name, safe='')}"


def sign_content_url(
    base_url: str, file_id: str, file_name: str, ttl_seconds: float, key: bytes
) -> tuple[str, datetime]:
    """Return (absolute signed URL on the blob route, expiry shown in the API as aware UTC)."""
    now = time.time()
    expires_epoch = math.ceil(now + ttl_seconds)
    key_hex = blob_key(file_id, key)
    path = f"/s3/{key_hex}/{file_name}"
    params = {
        "response-content-disposition": _disposition(file_name),
        "response-content-type": DEFAULT_CONTENT_TYPE,
    }
    query = {
        "AWSAccessKeyId": access_key_id(key),
        "Expires": str(expires_epoch),
        **params,
        "Signature": signature(key, "GET", path, str(expires_epoch), params),
    }
    url = f"{base_url.rstrip('/')}/s3/{key_hex}/{quote(file_name, safe='')}?{urlencode(query)}"
    margin = min(_EXPIRES_MARGIN, ttl_seconds / 100)
    return url, datetime.fromtimestamp(expires_epoch - margin, UTC)
