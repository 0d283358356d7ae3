"""Logs mask personal data (issue 18): a process's real log lines, read from its
stderr, show no full phone, name or street address of a customer."""

from __future__ import annotations

import json
import subprocess
import sys

from oms_events.log_privacy import mask_personal_data, mask_phone

SCRIPT = """
import logging
import structlog
from oms_events.logging import setup_logging

setup_logging("json", "info")
log = structlog.get_logger("test")
log.info(
    "order placed",
    customer={"name": "张三丰", "phone": "13800138000", "account": "zs"},
    address={"province": "广东省", "city": "深圳市", "line1": "科技园 190 号"},
)
log.warning("dead letter", message="customer.phone 13912345678 is not a mobile number")
try:
    raise ValueError("receiver 13600001111 refused")
except ValueError:
    log.exception("handler failed")
logging.getLogger("psycopg").warning("row for 15011112222 rejected")
"""


def test_a_process_logs_no_phone_name_or_street_of_a_customer() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert len(lines) == 4
    text = done.stderr.encode().decode("unicode_escape")
    for secret in ("13800138000", "张三丰", "科技园", "13912345678", "13600001111", "15011112222"):
        assert secret not in text and secret not in done.stderr
    placed = lines[0]
    assert placed["customer"] == {"name": "张**", "phone": "138****8000", "account": "zs"}
    assert placed["address"] == {"province": "广东省", "city": "深圳市", "line1": "***"}
    assert "139****5678" in lines[1]["message"]  # the operator still sees which number
    assert "136****1111" in lines[2]["exception"]


def test_numbers_that_are_not_mobiles_stay() -> None:
    assert mask_phone("order SO-20261201123456789 qty 13800138000x") == (
        "order SO-20261201123456789 qty 138****8000x"
    )
    assert mask_phone("waybill SF1234567890123, amount 12900") == (
        "waybill SF1234567890123, amount 12900"
    )
    masked = mask_personal_data(None, "info", {"tel": "010-62345678", "signer": "李"})
    assert masked == {"tel": "010****5678", "signer": "*"}
