"""One parcel's life as a carrier scans it: planned up front, from a seeded random.

A life is the list of scans a carrier will push for one waybill, each at a number of
simulated hours after the hand-over: collected (揽收) at the origin city, through one to
three hub cities, at the destination city, out for delivery (派送中), then delivered
(签收) with a signer; or a failed attempt (派送失败) and a retry the next day, and after
the last failed attempt returned to sender (退回); or refused at the door and returned;
or lost on the way (no scan ever again). Pure: no clock, no Kafka — the simulator
schedules the scans and ``formats`` renders them.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, replace
from enum import StrEnum

from oms_events.waybills.formats import waybill_format


class End(StrEnum):
    """How a parcel's life ends."""

    DELIVERED = "delivered"
    RETURNED = "returned"  # returned_to_sender: refused, too many failed attempts, intercepted
    LOST = "lost"  # the scans stop


@dataclass(frozen=True)
class Odds:
    """How often things go wrong, per parcel or per delivery attempt."""

    failure_rate: float = 0.1  # per attempt: nobody home, phone unanswered
    refusal_rate: float = 0.02  # per attempt: refused at the door, straight back to sender
    lost_rate: float = 0.005  # per parcel: the scans stop somewhere on the way
    max_attempts: int = 3  # failed attempts before the parcel goes back to sender


@dataclass(frozen=True)
class Scan:
    """One scan a carrier pushes: a status of the shared carrier vocabulary (see
    RecordCarrierUpdate), when (simulated hours after hand-over), where, and what the
    carrier says."""

    status: str  # in_transit | out_for_delivery | delivered | delivery_failed | returned_to_sender
    hours: float
    location: str
    remark: str
    op_code: str  # SF Express's route opCode for this kind of scan
    reason: str | None = None
    signer: str | None = None


@dataclass(frozen=True)
class Life:
    """A parcel's planned scans and how they end; ``eta_hours`` is when the carrier
    first expects to deliver (its promise, shown on the scans before delivery)."""

    scans: tuple[Scan, ...]
    end: End
    eta_hours: float


# Opcodes of SF Express's route push (丰桥 RoutePushService): 50 collected, 31 arrived at a
# hub, 44 out for delivery, 80 signed for, 70 delivery failed, 99 returned.
COLLECTED, ARRIVED, OUT, SIGNED, FAILED, RETURNED = "50", "31", "44", "80", "70", "99"

CITIES = ("深圳", "广州", "杭州", "上海", "北京", "武汉", "成都", "西安", "南京", "天津")
HUBS = (
    "广州白云中转场",
    "武汉中转场",
    "郑州中转场",
    "上海青浦中转场",
    "杭州萧山中转场",
    "长沙中转场",
)
FAILURE_REASONS = ("电话无人接听", "客户不在家，约定改日派送", "地址不详，联系不上收件人")
REFUSAL = "客户拒收"
TOO_MANY_FAILURES = "多次派送失败，退回寄件人"
INTERCEPTED = "寄件人拦截，退回"
SIGNERS = ("本人", "家人代收", "前台代收", "快递柜", "门卫代收")


def origin_city(location: str) -> str:
    """The city a stock location ships from (stable for a location id)."""
    return CITIES[zlib.crc32(location.encode()) % len(CITIES)]


def destination_city(city: str | None) -> str:
    """The delivery city as carriers write it (深圳市 -> 深圳); unknown: 深圳."""
    name = (city or "").strip()
    return name[:-1] if name.endswith("市") and len(name) > 2 else (name or "深圳")


def plan(
    rng: random.Random, origin: str, destination: str, odds: Odds, customer: str | None = None
) -> Life:
    """The scans of one parcel from ``origin`` to ``destination`` (cities).

    Hours strictly increase; the life ends delivered, returned or lost.
    """
    scans: list[Scan] = []
    hours = rng.uniform(0.5, 3.0)
    scans.append(Scan("in_transit", hours, origin, "快件已揽收", COLLECTED))
    for hub in rng.sample(HUBS, rng.randint(1, 3)):
        hours += rng.uniform(3.0, 12.0)
        scans.append(Scan("in_transit", hours, hub, f"快件到达【{hub}】", ARRIVED))
    hours += rng.uniform(4.0, 16.0)
    scans.append(Scan("in_transit", hours, destination, f"快件到达【{destination}】", ARRIVED))
    eta = hours + 4.0
    if rng.random() < odds.lost_rate:
        # Lost somewhere after it was collected: a prefix of the transit scans, then nothing.
        return Life(tuple(scans[: rng.randint(1, len(scans))]), End.LOST, eta)
    failures = 0
    while True:
        hours += rng.uniform(1.0, 4.0)
        scans.append(Scan("out_for_delivery", hours, destination, "快件派送中", OUT))
        hours += rng.uniform(0.5, 3.0)
        roll = rng.random()
        if roll < odds.refusal_rate:
            scans.append(
                Scan("returned_to_sender", hours, destination, "快件退回", RETURNED, REFUSAL)
            )
            return Life(tuple(scans), End.RETURNED, eta)
        if roll < odds.refusal_rate + odds.failure_rate:
            failures += 1
            reason = rng.choice(FAILURE_REASONS)
            scans.append(
                Scan("delivery_failed", hours, destination, "快件派送不成功", FAILED, reason)
            )
            if failures >= odds.max_attempts:
                hours += rng.uniform(2.0, 6.0)
                scans.append(
                    Scan(
                        "returned_to_sender",
                        hours,
                        destination,
                        "快件退回",
                        RETURNED,
                        TOO_MANY_FAILURES,
                    )
                )
                return Life(tuple(scans), End.RETURNED, eta)
            hours += rng.uniform(12.0, 24.0)  # tomorrow's round
            continue
        signer = customer if customer and rng.random() < 0.6 else rng.choice(SIGNERS)
        scans.append(
            Scan(
                "delivered", hours, destination, f"已签收，签收人：{signer}", SIGNED, signer=signer
            )
        )
        return Life(tuple(scans), End.DELIVERED, eta)


def intercept(life: Life, scanned: int, hours: float) -> Life | None:
    """The parcel's life if its sender intercepts it (拦截) after ``scanned`` scans were
    pushed, at ``hours``: the rest is dropped for one returned_to_sender scan. None when
    it is too late (delivered or returned already) or the parcel is lost."""
    # Not collected yet: the courier still collects it first, then turns it round.
    done = life.scans[: max(scanned, 1)]
    if life.end is End.LOST or any(s.status in ("delivered", "returned_to_sender") for s in done):
        return None
    at = max([hours, *(s.hours for s in done)]) + 0.5
    where = done[-1].location
    back = Scan("returned_to_sender", at, where, "快件已拦截，退回寄件人", RETURNED, INTERCEPTED)
    return replace(life, scans=(*done, back), end=End.RETURNED)


# --- carriers and waybill numbers -----------------------------------------------------

# Carrier code -> share of parcels, roughly the Chinese parcel market of a web shop.
# Codes and numbering are those of waybills/formats.py.
MARKET_SHARE: dict[str, float] = {"SF": 0.4, "ZTO": 0.25, "YTO": 0.15, "STO": 0.1, "JD": 0.1}


def pick_carrier(rng: random.Random) -> str:
    """A carrier code, drawn by market share."""
    codes = list(MARKET_SHARE)
    return rng.choices(codes, weights=[MARKET_SHARE[c] for c in codes])[0]


def waybill_number(carrier: str, rng: random.Random) -> str:
    """A tracking number in ``carrier``'s own format (waybills/formats.py) from a random
    serial: unique enough across simulation runs that share a carrier simulator, where
    a counter from zero would repeat the last run's numbers."""
    shape = waybill_format(carrier)
    return shape.make(rng.randrange(10**shape.serial_digits))
