"""China's provinces in the seven shipping regions, and how far apart regions are.

Carriers and warehouses price and promise by these regions (华东, 华南, 华北, 华中,
西南, 西北, 东北); a parcel inside one region usually arrives next day, across
neighbouring regions in two, across the country in three or more. Distance here is
that count of hops, the unit sourcing compares locations by.
"""

from __future__ import annotations

REGIONS = ("华东", "华南", "华北", "华中", "西南", "西北", "东北")

# Province (short name, as addresses usually start) -> region.
PROVINCE_REGION: dict[str, str] = {
    **dict.fromkeys(("上海", "江苏", "浙江", "安徽", "福建", "江西", "山东"), "华东"),
    **dict.fromkeys(("广东", "广西", "海南", "香港", "澳门"), "华南"),
    **dict.fromkeys(("北京", "天津", "河北", "山西", "内蒙古"), "华北"),
    **dict.fromkeys(("河南", "湖北", "湖南"), "华中"),
    **dict.fromkeys(("重庆", "四川", "贵州", "云南", "西藏"), "西南"),
    **dict.fromkeys(("陕西", "甘肃", "青海", "宁夏", "新疆"), "西北"),
    **dict.fromkeys(("辽宁", "吉林", "黑龙江"), "东北"),
}

# Regions sharing a border (trunk lines run between them directly).
_NEIGHBOURS = {
    frozenset(pair)
    for pair in (
        ("华东", "华南"),
        ("华东", "华北"),
        ("华东", "华中"),
        ("华南", "华中"),
        ("华南", "西南"),
        ("华北", "华中"),
        ("华北", "西北"),
        ("华北", "东北"),
        ("华中", "西南"),
        ("华中", "西北"),
        ("西南", "西北"),
    )
}
# Suffixes an address may carry after the short name (广东省, 广西壮族自治区, 北京市).
_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")
FAR = 4  # an unknown province or region: farther than anything known


def province_key(province: str | None) -> str | None:
    """The short name of ``province`` (``广东省`` -> ``广东``), or None if unknown."""
    if not province:
        return None
    name = province.strip()
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in PROVINCE_REGION:
            name = name[: -len(suffix)]
            break
    return name if name in PROVINCE_REGION else None


def region_of(province: str | None) -> str | None:
    """The region of ``province`` (any usual spelling), or None if unknown."""
    key = province_key(province)
    return None if key is None else PROVINCE_REGION[key]


def distance(from_province: str | None, to_province: str | None) -> int:
    """Hops between two provinces: 0 same province, 1 same region, 2 neighbouring
    regions, 3 farther, :data:`FAR` when either is unknown."""
    a, b = province_key(from_province), province_key(to_province)
    if a is None or b is None:
        return FAR
    if a == b:
        return 0
    ra, rb = PROVINCE_REGION[a], PROVINCE_REGION[b]
    if ra == rb:
        return 1
    return 2 if frozenset((ra, rb)) in _NEIGHBOURS else 3
