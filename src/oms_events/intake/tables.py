"""Reference tables of the intake: channel sku -> our sku, and named promotions.

The defaults ship inside the package beside this module (``skus.json``,
``promotions.json``, read with importlib.resources); operators point
``OMS_INTAKE_SKU_MAP`` / ``OMS_INTAKE_PROMOTIONS`` (``settings.intake``) at their own files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from oms_events import resources
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.pricing import Promotion, promotion_from
from oms_events.settings import IntakeSettings, get_settings


@dataclass(frozen=True)
class Tables:
    """The sku maps of every channel and the promotion table, loaded once."""

    skus: Mapping[str, Mapping[str, str]]
    promotions: Mapping[str, Promotion]

    @classmethod
    def load(cls, settings: IntakeSettings | None = None) -> Tables:
        """Read both files (``_doc`` keys are comments)."""
        settings = settings or get_settings().intake
        skus = json.loads((settings.sku_map or resources.intake_table("skus.json")).read_text())
        promos = json.loads(
            (settings.promotions or resources.intake_table("promotions.json")).read_text()
        )
        return cls(
            skus={c: dict(m) for c, m in skus.items() if not c.startswith("_")},
            promotions={
                k: promotion_from(k, v) for k, v in promos.items() if not k.startswith("_")
            },
        )

    def sku(self, channel: str, channel_sku: str, field: str) -> str:
        """Our sku for a channel's sku; an unknown one is ``intake.unknown_sku``."""
        ours = self.skus.get(channel, {}).get(channel_sku)
        if ours is None:
            raise Rejection(
                Code.UNKNOWN_SKU,
                field,
                f"{channel} sku {channel_sku[:40]!r} is not in the sku map",
                f"{channel} 渠道商品编码 {channel_sku[:40]!r} 未在商品映射表中",
            )
        return ours

    def promotion(self, code: str, field: str) -> Promotion:
        """A named promotion; an unknown code is ``intake.unknown_promotion``."""
        try:
            return self.promotions[code]
        except KeyError:
            raise Rejection(
                Code.UNKNOWN_PROMOTION,
                field,
                f"promotion {code[:40]!r} is not in the promotion table",
                f"促销编码 {code[:40]!r} 不在促销表中",
            ) from None
