"""Why a delivery was refused: a stable code, the field at fault, and messages in zh and en.

The code and field travel in dead-letter headers and HTTP 400 bodies; the two messages
are what operators read in the console.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """Dead-letter codes of the intake (``dlq.code`` header)."""

    UNPARSEABLE = "intake.unparseable"
    MISSING_FIELD = "intake.missing_field"
    BAD_VALUE = "intake.bad_value"
    BAD_EXTERNAL_ID = "intake.bad_external_id"
    UNKNOWN_SKU = "intake.unknown_sku"
    UNKNOWN_PROMOTION = "intake.unknown_promotion"
    BAD_PHONE = "intake.bad_phone"
    BAD_QUANTITY = "intake.bad_quantity"
    # Two lines of one order with the same channel line id (Shopify line id, Taobao oid):
    # taking both could ship the item twice.
    DUPLICATE_LINE = "intake.duplicate_line"
    BAD_AMOUNT = "intake.bad_amount"
    PRICE_MISMATCH = "intake.price_mismatch"
    BAD_STATUS = "intake.bad_status"
    CHANGE_REJECTED = "intake.change_rejected"
    # A domain rule of the order aggregate refuses it (the message names the rule).
    ORDER_INVALID = "intake.order_invalid"
    # Its command would be larger than one Kafka record may be.
    TOO_LARGE = "intake.too_large"
    # A bug of ours, not of the channel: still dead-lettered (never lost), and the fuzz
    # tests assert it never happens.
    INTERNAL = "intake.internal_error"


class Rejection(Exception):
    """A delivery (or one order of a batch) that cannot become a command.

    ``external_id`` is set when the order could be identified before it failed, so the
    dead letter names it.
    """

    def __init__(
        self,
        code: Code,
        field: str,
        en: str,
        zh: str,
        external_id: str | None = None,
    ) -> None:
        super().__init__(f"{code.value} at {field}: {en}")
        self.code = code
        self.field = field
        self.en = en
        self.zh = zh
        self.external_id = external_id

    def for_order(self, external_id: str) -> Rejection:
        """The same rejection, naming the order it belongs to."""
        if self.external_id is None:
            self.external_id = external_id
        return self


def missing(field: str) -> Rejection:
    """A required field is absent or empty."""
    return Rejection(
        Code.MISSING_FIELD, field, f"required field {field} is missing", f"缺少必填字段 {field}"
    )


def bad_value(field: str, value: object, expected: str, expected_zh: str) -> Rejection:
    """A field holds a value of the wrong shape."""
    shown = repr(value)[:80]
    return Rejection(
        Code.BAD_VALUE,
        field,
        f"{field} is {shown}, expected {expected}",
        f"{field} 的值 {shown} 无效，应为{expected_zh}",
    )
