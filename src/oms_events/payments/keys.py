"""Key material of both providers, and the one signature scheme they share.

Alipay (RSA2) and WeChat Pay (WECHATPAY2-SHA256-RSA2048) both sign with
SHA256withRSA: RSASSA-PKCS1-v1_5 over SHA-256, the signature base64-encoded.

For development and tests :meth:`KeyRing.load_or_create` generates every key once,
both the merchant's and the providers' halves, under one folder with owner-only
permissions. A live deployment would hold only the merchant's private keys, the
providers' public keys and the APIv3 key; the sandbox holds the other halves.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

RSA_BITS = 2048  # what both providers issue and accept


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA signature of ``message``, base64."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    """True when ``signature`` (base64) is ``key``'s SHA256withRSA signature of ``message``."""
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def serial_of(key: rsa.RSAPublicKey) -> str:
    """A stable serial for a key (WeChat Pay names its platform certificate by serial):
    the upper-case hex SHA-1 of the public key, 40 characters like a real serial."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(der).hexdigest().upper()


def public_pem(key: rsa.RSAPublicKey) -> str:
    """A public key as PEM text (what Alipay's console shows as the platform key)."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL: two processes starting at once must not both write half a key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _private_key(path: Path) -> rsa.RSAPrivateKey:
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Another process may win the race: then its key is the one read below.
        with contextlib.suppress(FileExistsError):
            _write_private(path, pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return loaded


def _apiv3_key(path: Path) -> bytes:
    if not path.exists():
        # WeChat Pay's APIv3 key is 32 characters a merchant types into its console.
        alphabet = string.ascii_letters + string.digits
        with contextlib.suppress(FileExistsError):
            _write_private(path, "".join(secrets.choice(alphabet) for _ in range(32)).encode())
    key = path.read_bytes().strip()
    if len(key) != 32:
        raise ValueError(f"{path}: an APIv3 key is 32 bytes, found {len(key)}")
    return key


@dataclass(frozen=True)
class KeyRing:
    """Both halves of every key of the sandboxes and the gateways that talk to them."""

    alipay_app: rsa.RSAPrivateKey  # the merchant's app key: signs requests
    alipay_platform: rsa.RSAPrivateKey  # Alipay's key: signs notifications and answers
    wechatpay_merchant: rsa.RSAPrivateKey  # apiclient_key.pem: signs requests
    wechatpay_platform: rsa.RSAPrivateKey  # the platform certificate's key: signs notifications
    wechatpay_apiv3: bytes  # encrypts notification resources (AES-256-GCM)

    @property
    def wechatpay_merchant_serial(self) -> str:
        """Serial of the merchant's API certificate (sent in the Authorization header)."""
        return serial_of(self.wechatpay_merchant.public_key())

    @property
    def wechatpay_platform_serial(self) -> str:
        """Serial of the platform certificate (sent as ``Wechatpay-Serial``)."""
        return serial_of(self.wechatpay_platform.public_key())

    @classmethod
    def load_or_create(cls, directory: Path) -> KeyRing:
        """Read the keys under ``directory``, generating the missing ones (0600 files
        in a 0700 folder)."""
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        return cls(
            alipay_app=_private_key(directory / "alipay_app_private_key.pem"),
            alipay_platform=_private_key(directory / "alipay_platform_private_key.pem"),
            wechatpay_merchant=_private_key(directory / "wechatpay_merchant_private_key.pem"),
            wechatpay_platform=_private_key(directory / "wechatpay_platform_private_key.pem"),
            wechatpay_apiv3=_apiv3_key(directory / "wechatpay_apiv3_key"),
        )
