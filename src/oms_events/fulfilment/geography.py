"""Kilometres between provinces: great-circle distance between their capitals (省会).

A proxy for the road a parcel travels, good enough to compare two ways of sourcing
the same orders: sourcing ranks by region hops (``regions.distance``), reports count
kilometres. Two places in one province are 0 km apart here (their capitals coincide).
"""

from __future__ import annotations

import math

from oms_events.fulfilment.regions import province_key

# Province (short name) -> (latitude, longitude) of its capital, degrees.
CAPITALS: dict[str, tuple[float, float]] = {
    "北京": (39.90, 116.41),
    "天津": (39.13, 117.20),
    "河北": (38.04, 114.51),  # 石家庄
    "山西": (37.87, 112.55),  # 太原
    "内蒙古": (40.84, 111.75),  # 呼和浩特
    "辽宁": (41.80, 123.43),  # 沈阳
    "吉林": (43.82, 125.32),  # 长春
    "黑龙江": (45.80, 126.53),  # 哈尔滨
    "上海": (31.23, 121.47),
    "江苏": (32.06, 118.80),  # 南京
    "浙江": (30.27, 120.16),  # 杭州
    "安徽": (31.82, 117.23),  # 合肥
    "福建": (26.07, 119.30),  # 福州
    "江西": (28.68, 115.86),  # 南昌
    "山东": (36.65, 117.12),  # 济南
    "河南": (34.75, 113.62),  # 郑州
    "湖北": (30.59, 114.31),  # 武汉
    "湖南": (28.23, 112.94),  # 长沙
    "广东": (23.13, 113.26),  # 广州
    "广西": (22.82, 108.37),  # 南宁
    "海南": (20.04, 110.20),  # 海口
    "香港": (22.32, 114.17),
    "澳门": (22.20, 113.54),
    "重庆": (29.56, 106.55),
    "四川": (30.57, 104.07),  # 成都
    "贵州": (26.65, 106.63),  # 贵阳
    "云南": (25.04, 102.71),  # 昆明
    "西藏": (29.65, 91.13),  # 拉萨
    "陕西": (34.34, 108.94),  # 西安
    "甘肃": (36.06, 103.83),  # 兰州
    "青海": (36.62, 101.78),  # 西宁
    "宁夏": (38.49, 106.23),  # 银川
    "新疆": (43.83, 87.62),  # 乌鲁木齐
}
EARTH_RADIUS_KM = 6371.0


def km(from_province: str | None, to_province: str | None) -> int | None:
    """Whole kilometres between the capitals of two provinces (any usual spelling),
    or None when either is unknown."""
    a, b = province_key(from_province), province_key(to_province)
    if a is None or b is None:
        return None
    (lat1, lon1), (lat2, lon2) = CAPITALS[a], CAPITALS[b]
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h)))
