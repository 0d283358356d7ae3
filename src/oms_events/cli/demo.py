"""``oms demo``: publish one sample order and read it back, the smallest round trip."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from rich.console import Console
from rich.pretty import Pretty

from oms_events import topics
from oms_events.avro.registry import codec_from_settings
from oms_events.cli.errors import one_line_errors
from oms_events.kafka.connection import consumer, producer
from oms_events.settings import get_settings

out = Console()
PLACE_ORDER = "oms.order.commands.PlaceOrder"


def sample_order() -> dict[str, object]:
    """A Tmall-style order, already normalized, as a PlaceOrder command."""
    external = f"TM{uuid.uuid4().int % 10**12:012d}"
    return {
        "command_id": str(uuid.uuid4()),
        "order_no": f"OMS-{external}",
        "channel": "tmall",
        "external_id": external,
        "customer": {"name": "张三", "phone": "13800138000", "account": "tb_zhangsan"},
        "address": {
            "country": "CN",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "postcode": "310000",
            "line1": "文三路 90 号",
        },
        "currency": "CNY",
        "lines": [
            {
                "line_no": 1,
                "sku": "SKU-TEA-001",
                "quantity": 2,
                "unit_price": 1250,
                "discount": 250,
                "promotions": ["满100减10"],
            }
        ],
        "payment_method": "alipay",
        "paid": True,
        "delivery_speed": "standard",
        "placed_at": datetime.now(UTC),
    }


@one_line_errors
def demo() -> None:
    """Publish one sample PlaceOrder command (Avro) in a Kafka transaction and read it
    back with a read_committed consumer."""
    settings = get_settings()
    codec = codec_from_settings(settings.schema_registry_url)
    topic = topics.name(settings, topics.commands("order"))
    order = sample_order()
    p = producer(settings, transactional_id=f"oms-demo-{uuid.uuid4()}")
    p.init_transactions()
    p.begin_transaction()
    meta = p.send(
        topic, key=str(order["order_no"]).encode(), value=codec.encode(PLACE_ORDER, order)
    ).get(timeout=30)
    p.commit_transaction()
    p.close()
    out.print(f"published {order['order_no']} to {topic}[{meta.partition}]@{meta.offset}")
    from kafka import TopicPartition

    c = consumer(settings, group_id=None, consumer_timeout_ms=10_000)
    tp = TopicPartition(topic, meta.partition)
    c.assign([tp])
    c.seek(tp, meta.offset)
    for record in c:
        name, value = codec.decode(record.value)
        out.print(f"read back {name} from {topic}[{record.partition}]@{record.offset}:")
        out.print(Pretty(value))
        break
    c.close()
