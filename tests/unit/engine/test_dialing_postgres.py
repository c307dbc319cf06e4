"""The dialing and policy tests again, on PostgreSQL: there a turn takes its one-statement path
(the contact claimed with its attempt row, a placed call recorded, each as one statement with no
transaction of its own), which SQLite never takes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from dialer.db import Base, make_engine
from tests.services import scratch_postgres_database
from tests.unit.engine.test_dialing import *  # noqa: F403 - the same tests, collected here too
from tests.unit.engine.test_error_handling import *  # noqa: F403
from tests.unit.engine.test_lookup import *  # noqa: F403
from tests.unit.engine.test_policy import *  # noqa: F403

pytestmark = pytest.mark.postgres


@pytest.fixture
def sqlite_engine() -> Iterator[Engine]:
    """In this module, the engine every fixture uses is a scratch PostgreSQL database."""
    with scratch_postgres_database() as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
