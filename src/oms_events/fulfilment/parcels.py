"""A warehouse parcel's boxes and carrier, by the rules file and the sku catalogue.

What ``oms docs`` asks when it makes a wave (the carrier of each waybill) and prints
a pack list (the boxes to use). Loaded once per command from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from oms_events.documents.parcels import Parcel
from oms_events.fulfilment import rules as rules_file
from oms_events.fulfilment.boxes import Packed, Unpackable, pack
from oms_events.fulfilment.carriers import CarrierChoice, ParcelFacts, carrier_rules, choose
from oms_events.fulfilment.catalogue import Catalogue
from oms_events.fulfilment.rules import CarrierRule, Rules
from oms_events.settings import Settings


@dataclass(frozen=True)
class ParcelRules:
    """The rules a parcel is boxed and handed to a carrier by."""

    rules: Rules | None
    catalogue: Catalogue
    carriers: tuple[CarrierRule, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> ParcelRules:
        """Read OMS_FULFILMENT_RULES and OMS_FULFILMENT_SKUS (ValueError: one line)."""
        f, w = settings.fulfilment, settings.warehouse
        rules = None if f.rules is None else rules_file.load(f.rules)
        try:
            catalogue = Catalogue.load(f.skus)
        except OSError as exc:
            raise ValueError(
                f"{f.skus}: cannot read ({exc.strerror}); check OMS_FULFILMENT_SKUS"
            ) from None
        carriers = carrier_rules(rules, w.carriers, w.default_carrier, w.express_carrier)
        return cls(rules, catalogue, carriers)

    def boxes(self, parcel: Parcel) -> list[Packed]:
        """The boxes for ``parcel`` (none without a box catalogue); Unpackable when a
        unit fits no box."""
        if self.rules is None or not self.rules.boxes:
            return []
        return pack(
            [(ln.sku, ln.quantity) for ln in parcel.lines], self.catalogue, self.rules.boxes
        )

    def box_text(self, parcel: Parcel) -> str | None:
        """The boxes as a pack list prints them (``M ×1 + S ×1``), None without boxes."""
        try:
            packed = self.boxes(parcel)
        except Unpackable:
            return "无合适箱型 no box fits"
        counts: dict[str, int] = {}
        for p in packed:
            counts[p.box.id] = counts.get(p.box.id, 0) + 1
        return " + ".join(f"{box} ×{n}" for box, n in sorted(counts.items())) or None

    def facts(self, parcel: Parcel) -> ParcelFacts:
        """What carrier choice reads of ``parcel``: weight of its units, longest side
        of its boxes (of its units without a box catalogue), COD, destination."""
        sizes = [self.catalogue.size(ln.sku) for ln in parcel.lines for _ in range(ln.quantity)]
        try:
            sides = [p.box.dims[0] for p in self.boxes(parcel)]
        except Unpackable:
            sides = []
        sides = sides or [s.dims[0] for s in sizes]
        return ParcelFacts(
            location=parcel.location,
            delivery_speed=parcel.delivery_speed,
            province=parcel.address.province,
            weight_g=sum(s.weight_g for s in sizes),
            longest_side_mm=max(sides, default=0),
            cod=parcel.cod_amount is not None,
        )

    def carrier(self, parcel: Parcel) -> CarrierChoice | None:
        """The carrier for ``parcel``, None when no carrier rule takes it."""
        return choose(self.facts(parcel), self.carriers)
