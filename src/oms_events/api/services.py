"""What the routes work with, made once per server: the database, the token signer,
the command desk and the channel guard (``app.state.api``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from oms_events.api.channel_keys import ChannelGuard, RateLimit
from oms_events.api.commands import CommandDesk
from oms_events.api.database import Database
from oms_events.api.users import Tokens
from oms_events.settings import Settings


@dataclass
class Services:
    """The operator API's collaborators."""

    settings: Settings
    db: Database
    tokens: Tokens
    desk: CommandDesk
    guard: ChannelGuard
    # Sign-in attempts per user name: 5 at once, then one every 10 s (password guessing).
    logins: RateLimit = field(default_factory=lambda: RateLimit(per_s=0.1, burst=5))

    @classmethod
    def start(cls, settings: Settings, schema: str | None = None) -> Services:
        """Connect to PostgreSQL (migrating the API's tables) and Kafka."""
        db = Database(settings.postgres.api_dsn, schema or settings.projections.schema_name)
        db.migrate(settings)
        api = settings.api
        made = cls(
            settings=settings,
            db=db,
            tokens=Tokens(api.secret, api.token_ttl_s),
            desk=CommandDesk(settings, db),
            guard=ChannelGuard(
                db, api.signature_max_age_s, RateLimit(api.intake_rate_per_s, api.intake_burst)
            ),
        )
        made.desk.resume()  # commands a previous run left pending
        return made

    def close(self) -> None:
        """Stop watching commands and close the pool."""
        self.desk.close()
        self.db.close()


def services(request: Request) -> Services:
    """The server's services; 503 when the server was made without them (the OpenAPI
    document's app)."""
    found: Services | None = getattr(request.app.state, "api", None)
    if found is None:
        raise HTTPException(503, "the operator API is not connected to its database")
    return found
