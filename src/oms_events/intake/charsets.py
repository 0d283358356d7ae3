"""Which character encoding a delivery is in: declared, marked by a BOM, or told apart.

Chinese channels still send GBK / GB18030 (mainland tills, older Taobao and JD tools)
and Big5 (Hong Kong and Taiwan tills) besides UTF-8. Both legacy encodings use the same
byte ranges, so Big5 bytes often *decode* as GB18030 without error, into nonsense.
Decoding therefore never guesses silently:

1. a byte-order mark names the encoding (UTF-8, UTF-16);
2. an encoding the document declares (``<?xml ... encoding="GBK"?>``) is used, strictly;
3. valid UTF-8 is UTF-8 (for a CSV batch, unless it is as plausibly GB18030 or Big5:
   see :func:`decode`);
4. otherwise the text is read both as GB18030 and as Big5; a reading that fails is
   out, and when both succeed, the one whose characters are overwhelmingly the common
   ones of its own standard wins (GB2312 level 1 and its punctuation; Big5's common
   characters and symbols), since a wrong reading scatters into rare characters;
5. when neither wins clearly, the delivery is refused (``intake.unparseable``) asking
   the channel to declare its encoding or send UTF-8.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

from oms_events.intake.errors import Code, Rejection

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]{1,40})[\"']")
# A reading wins when this share of its non-ASCII characters is common in its standard,
# and the other reading's share is lower by at least _MARGIN.
_CLEAR = 0.8
_MARGIN = 0.2


def declared_xml_encoding(raw: bytes) -> str | None:
    """The encoding an XML declaration names, or None."""
    found = _XML_DECLARATION.match(raw[:200])
    return found.group(1).decode("ascii") if found else None


def decode(raw: bytes, what: str, declared: str | None = None, utf8_default: bool = True) -> str:
    """``raw`` as text (see the module docstring); a :class:`Rejection` when it cannot be
    read, or could be read two ways.

    ``utf8_default``: valid UTF-8 is UTF-8, as JSON (RFC 8259) and XML without a
    declaration must be. A CSV batch has no such default: when its UTF-8 reading holds
    only two-byte characters (Latin, Greek, Cyrillic: ``Ѧ``) and a legacy reading is
    plainly Chinese, a few GB or Big5 characters happened to form valid UTF-8, and the
    batch is refused rather than guessed.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return _strict(raw, encoding, what)
    if declared:
        return _strict(raw, declared, what)
    readings = _legacy_readings(raw)
    try:
        utf8 = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if utf8_default or not _could_be_legacy(utf8, readings):
            return utf8
        raise _unreadable(
            what,
            "could be UTF-8 or GB18030/Big5 text: declare the encoding (charset) or add a BOM",
            "无法确定是 UTF-8 还是 GB18030/Big5 编码：请声明编码（charset）或加 BOM",
        )
    if not readings:
        raise _unreadable(what, "neither UTF-8, GB18030 nor Big5", "既非 UTF-8、GB18030 也非 Big5")
    if len(readings) == 1:
        return next(iter(readings.values()))
    gb, big5 = (
        _common_share(readings["gb18030"], _gb_common),
        _common_share(readings["big5"], _big5_common),
    )
    if gb >= _CLEAR and gb - big5 >= _MARGIN:
        return readings["gb18030"]
    if big5 >= _CLEAR and big5 - gb >= _MARGIN:
        return readings["big5"]
    raise _unreadable(
        what,
        "could be GB18030 or Big5 text: declare the encoding (charset) or send UTF-8",
        "无法确定是 GB18030 还是 Big5 编码：请声明编码（charset）或使用 UTF-8",
    )


def _legacy_readings(raw: bytes) -> dict[str, str]:
    """The GB18030 and Big5 readings of ``raw`` that decode without error."""
    readings: dict[str, str] = {}
    for encoding in ("gb18030", "big5"):
        try:
            readings[encoding] = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return readings


def _could_be_legacy(utf8: str, readings: dict[str, str]) -> bool:
    """Whether a UTF-8 reading without CJK could as well be Chinese in a legacy encoding."""
    wide = [c for c in utf8 if ord(c) > 0x7F]
    if not wide or any(ord(c) >= 0x800 for c in wide):
        return False  # ASCII, or three-byte characters: legacy text rarely forms these
    shares = {"gb18030": _gb_common, "big5": _big5_common}
    return any(_common_share(text, shares[enc]) >= _CLEAR for enc, text in readings.items())


def _strict(raw: bytes, encoding: str, what: str) -> str:
    try:
        return raw.decode(encoding)
    except LookupError:
        raise _unreadable(
            what, f"unknown encoding {encoding[:40]!r}", f"未知编码 {encoding[:40]!r}"
        ) from None
    except UnicodeDecodeError as exc:
        raise _unreadable(
            what,
            f"not valid {encoding} text at byte {exc.start}",
            f"第 {exc.start} 字节起不是有效的 {encoding} 文本",
        ) from None


def _common_share(text: str, common: Callable[[str], bool]) -> float:
    """The share of the non-ASCII characters of ``text`` that are ``common``."""
    wide = [c for c in text if ord(c) > 0x7F]
    if not wide:
        return 1.0
    return sum(1 for c in wide if common(c)) / len(wide)


def _gb_common(char: str) -> bool:
    """GB2312 punctuation and full-width forms (rows 1-3) or level-1 hanzi (rows 16-55)."""
    try:
        lead = char.encode("gb2312")[0]
    except UnicodeEncodeError:
        return False
    return 0xA1 <= lead <= 0xA3 or 0xB0 <= lead <= 0xD7


def _big5_common(char: str) -> bool:
    """Big5 symbols (0xA140-0xA3BF) or its frequently used characters (0xA440-0xC67E)."""
    try:
        code = int.from_bytes(char.encode("big5"), "big")
    except UnicodeEncodeError:
        return False
    return 0xA140 <= code <= 0xA3BF or 0xA440 <= code <= 0xC67E


def _unreadable(what: str, detail: str, detail_zh: str) -> Rejection:
    return Rejection(
        Code.UNPARSEABLE,
        "$",
        f"not a readable {what}: {detail[:160]}",
        f"无法解析的{what}文档：{detail_zh[:160]}",
    )
