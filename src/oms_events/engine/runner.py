"""The engine process: every processor (or a chosen few) in threads, until SIGTERM.

Threads, not asyncio: the Kafka clients block, each already runs its own
network thread, and a processor spends its time waiting on the broker (poll,
transaction commit) with the GIL released. One thread per processor keeps each
loop a plain sequential program. CPU-bound work (Avro, aggregates) shares one
core per process, so to use more cores run more processes (``oms run --only
inventory`` on one, ``--only order`` on another): partitions are spread over all
processes of a group by Kafka, one owner per partition at a time.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

import structlog

from oms_events.avro.codec import Codec
from oms_events.avro.registry import RegistryError, codec_from_settings
from oms_events.engine.carrier_adapter import CarrierAdapter
from oms_events.engine.inventory_service import InventoryService
from oms_events.engine.order_saga import OrderSaga
from oms_events.engine.order_service import OrderService
from oms_events.engine.payment_desk import PaymentDesk
from oms_events.engine.payment_service import PaymentService
from oms_events.engine.processor import Processor
from oms_events.engine.return_service import ReturnService
from oms_events.engine.service import Service
from oms_events.engine.shipment_service import ShipmentService
from oms_events.engine.sourcing import StockView
from oms_events.engine.stock_watcher import StockWatcher
from oms_events.engine.warehouse_adapter import WarehouseAdapter
from oms_events.engine.waybill_index import WaybillIndex, WaybillWatcher
from oms_events.fulfilment import rules as rules_file
from oms_events.payments import providers
from oms_events.payments.gateway import PaymentGateway
from oms_events.settings import Settings

log = structlog.get_logger(__name__)

PROCESSORS: tuple[str, ...] = (
    "inventory",
    "order",
    "shipment",
    "warehouse",
    "carrier",
    "payment",
    "return",
)


class Engine:
    """Starts the processors named in ``only`` (all by default) and stops them."""

    def __init__(
        self,
        settings: Settings,
        only: Sequence[str] = (),
        codec: Codec | None = None,
        gateways: Mapping[str, PaymentGateway] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock``: the time the processors' timers judge by (a what-if's replay clock;
        the wall clock otherwise)."""
        unknown = set(only) - set(PROCESSORS)
        if unknown:
            raise ValueError(f"unknown processors {sorted(unknown)}; use {', '.join(PROCESSORS)}")
        self.settings = settings
        self.engine = settings.engine
        self.names = [n for n in PROCESSORS if not only or n in only]
        self.codec = codec or codec_from_settings(settings)
        self.stop_event = threading.Event()
        self.stock = StockView()
        # Read once, before any thread starts: a bad file stops `oms run` with one line.
        path = settings.fulfilment.rules
        self.rules = None if path is None else rules_file.load(path)
        self.watcher: StockWatcher | None = None
        self.waybills = WaybillIndex()
        self.waybill_watcher: WaybillWatcher | None = None
        self.desk: PaymentDesk | None = None
        self.gateways = gateways
        self.processors: list[Processor] = []
        self.clock = clock

    def service(self, name: str) -> Service:
        if name == "inventory":
            return InventoryService()
        if name == "order":
            return OrderService(
                OrderSaga(
                    self.engine.order_workflow(),
                    self.stock,
                    self.rules,
                    review=self.settings.review.rules(),
                ),
                self.settings.returns.policy(),
            )
        if name == "shipment":
            return ShipmentService()
        if name == "payment":
            return PaymentService()
        if name == "return":
            return ReturnService(self.settings.returns.policy())
        if name == "carrier":
            return CarrierAdapter(self.waybills, self.settings, self.codec)
        return WarehouseAdapter()

    def start_stock_view(self) -> None:
        """Start the order saga's stock view and wait (up to 60 s) for it to catch up."""
        self.watcher = StockWatcher(
            self.settings,
            self.codec,
            self.stock,
            self.stop_event,
            self.engine.fetch_max_wait_ms,
        )
        self.watcher.start()
        self.watcher.caught_up.wait(timeout=60)

    def start(self) -> None:
        """Start the threads; the order saga waits for its stock view to catch up first."""
        if "order" in self.names:
            self.start_stock_view()
        if "carrier" in self.names:
            # Scans routed before the index knows the window would all be parked.
            self.waybill_watcher = WaybillWatcher(
                self.settings,
                self.codec,
                self.waybills,
                self.stop_event,
                self.engine.fetch_max_wait_ms,
            )
            self.waybill_watcher.start()
            self.waybill_watcher.caught_up.wait(timeout=60)
        if "payment" in self.names:
            # The providers' gateways are built only where refunds are paid out.
            gateways: Mapping[str, PaymentGateway]
            if self.gateways is not None:
                gateways = self.gateways
            else:
                gateways = {str(n): g for n, g in providers.gateways(self.settings).items()}
            self.desk = PaymentDesk(self.settings, self.codec, gateways, self.stop_event)
            self.desk.start()
        for name in self.names:
            service = self.service(name)
            step = service.step if isinstance(service, CarrierAdapter) else None
            p = Processor(
                service, self.settings, self.codec, self.stop_event, step=step, clock=self.clock
            )
            p.start()
            self.processors.append(p)
        log.info("engine started", processors=self.names, partitions=self.settings.kafka.partitions)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every processor to finish its transaction and leave its group."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for p in self.processors:
            p.join(max(0.0, deadline - time.monotonic()))
        for thread in (self.watcher, self.waybill_watcher, self.desk):
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))

    def failed(self) -> list[Processor]:
        """Processors that stopped on an error."""
        return [p for p in self.processors if p.error is not None]

    def run_forever(self) -> int:
        """Run until SIGTERM / SIGINT or a processor fails; the exit code says which.

        A processor stopped by the schema registry (a refused schema, say) re-raises
        its error here, so ``oms run`` prints it as one line: restarting cannot help
        until the schema or the registry is fixed, and no record was dead-lettered.
        """

        def _on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("stopping", signal=signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        self.start()
        while not self.stop_event.wait(0.5):
            if self.desk is not None and self.desk.error is not None:
                # Refunds would wait unasked: stop, so a supervisor restarts the engine.
                log.error("the payment desk failed; stopping the engine")
                self.stop_event.set()
            if self.waybill_watcher is not None and self.waybill_watcher.error is not None:
                # Every scan would be parked, then dead-lettered: restart instead.
                log.error("the waybill watcher failed; stopping the engine")
                self.stop_event.set()
            if self.failed():
                log.error(
                    "a processor failed; stopping the engine",
                    failed=[p.service.name for p in self.failed()],
                )
                self.stop_event.set()
        self.stop()
        for p in self.failed():
            if isinstance(p.error, RegistryError):
                raise p.error
        desk_failed = self.desk is not None and self.desk.error is not None
        watcher = self.waybill_watcher
        waybills_failed = watcher is not None and watcher.error is not None
        return 1 if self.failed() or desk_failed or waybills_failed else 0
