"""conftest.py -- pytest fixtures for Herald's integration tests.

  pg_cluster  one throwaway PostgreSQL cluster for the whole run
  pg_dsn      a fresh, empty database on it for one test
  stack       starts Herald binaries and herald-devkafka for one test, and
              stops them after it; a service that does not exit 0 on
              SIGTERM, or printed a sanitizer report, fails the test
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from harness import BIN, PgCluster, Stack  # noqa: E402


def pytest_sessionstart(session):
    if not os.path.isdir(BIN):
        raise pytest.UsageError("no binaries in %s: run `make asan` first" % BIN)


@pytest.fixture(scope="session")
def pg_cluster():
    c = PgCluster().start()
    yield c
    c.destroy()


@pytest.fixture
def pg_dsn(pg_cluster):
    return pg_cluster.new_database()


@pytest.fixture
def stack(pg_cluster):
    s = Stack(pg=pg_cluster)
    yield s
    s.close()
    if s.problems:
        pytest.fail("\n".join(s.problems), pytrace=False)
