"""Property: text in any encoding a channel uses reads back as itself or is refused —
never silently decoded into other characters (issue 19: Big5 read as GB18030)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms_events.intake.charsets import decode
from oms_events.intake.errors import Code, Rejection

# What tills and shops write: names, streets, goods, digits and punctuation. Characters
# common to both scripts and ones only one script has, so either encoding can hold it.
SIMPLIFIED = (
    "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
    "程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜"
    "范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤"
    "尹黎易常武乔贺赖龚文省市区县路街号楼室广东浙江杭州深圳北京上"
    "海茶杯龙井现金银联微信支付宝"
)
TRADITIONAL = (
    "陳黃劉楊趙張葉鄭謝韓馮蕭曹鄧許傅蘇盧蔣蔡賈魏薛閻潘鍾汪譚廖鄒"
    "熊陸龔區縣號樓廣東臺灣香港九龍彌敦道旺角現金銀聯微信支付寶電"
    "話"
)
COMMON = "0123456789 ,.-:()ABCDEFGHabcdefgh"

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reads_back_or_refuses(text: str, encoding: str) -> None:
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        return  # not writable in that encoding: no till would send it
    try:
        assert decode(raw, "CSV", utf8_default=False) == text
    except Rejection as refused:
        assert refused.code is Code.UNPARSEABLE and refused.field == "$"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
@FUZZ
@given(text=st.text(alphabet=SIMPLIFIED + COMMON, min_size=1, max_size=60))
def test_simplified_text(encoding: str, text: str) -> None:
    reads_back_or_refuses(text, encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "big5"])
@FUZZ
@given(text=st.text(alphabet=TRADITIONAL + COMMON, min_size=1, max_size=60))
def test_traditional_text(encoding: str, text: str) -> None:
    reads_back_or_refuses(text, encoding)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes_are_text_or_a_refusal(raw: bytes) -> None:
    try:
        assert isinstance(decode(raw, "CSV", utf8_default=False), str)
    except Rejection as refused:
        assert refused.code is Code.UNPARSEABLE
