"""The ``oms`` entry point: one Typer app with a sub-command per concern."""

from __future__ import annotations

import typer

from oms_events.cli import (
    bench,
    carrier,
    channel,
    check,
    cod,
    config,
    console,
    customer,
    db,
    demo,
    dev,
    docs,
    forecast,
    intake,
    notify,
    order,
    order_actions,
    payment,
    project,
    report,
    returns,
    rules,
    run,
    schemas,
    shipment,
    simulate,
    status,
    stock,
    topics,
    user,
)
from oms_events.logging import setup_logging
from oms_events.settings import get_settings

app = typer.Typer(
    help="oms-events: event-sourced order management on Apache Kafka and PostgreSQL.\n\n"
    "Settings come from OMS_* environment variables (see README, 'Configuration').",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(dev.app, name="dev")
app.add_typer(topics.app, name="topics")
app.command("demo")(demo.demo)
app.command("intake")(intake.intake)
app.command("run")(run.run)
app.command("simulate")(simulate.simulate)
app.add_typer(db.app, name="db")
app.add_typer(order.app, name="order")
order_actions.register(order.app)
app.add_typer(payment.app, name="payment")
app.add_typer(shipment.app, name="shipment")
app.add_typer(carrier.app, name="carrier")
app.command("refund")(payment.refund)
app.add_typer(cod.app, name="cod")
app.command("project")(project.project)
app.command("replay")(project.replay)
app.command("status")(status.status)
app.add_typer(stock.app, name="stock")
app.add_typer(report.app, name="report")
app.add_typer(forecast.app, name="forecast")
app.add_typer(returns.app, name="return")
app.command(
    "bench",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)(bench.bench)
app.add_typer(channel.app, name="channel")
app.add_typer(schemas.app, name="schemas")
app.add_typer(config.app, name="config")
app.command("console")(console.console)
app.add_typer(check.app, name="check")
app.add_typer(docs.app, name="docs")
app.add_typer(rules.app, name="rules")
app.add_typer(notify.app, name="notify")
app.add_typer(customer.app, name="customer")
app.add_typer(user.app, name="user")


@app.callback()
def _setup() -> None:
    settings = get_settings()
    setup_logging(settings.log.format, settings.log.level)


if __name__ == "__main__":
    app()
