"""The isolation tests, unchanged, through PgBouncer in transaction mode: the fixtures they use
(``make_settings``, ``admin_conn``) point at the cluster's primary behind its PgBouncer."""

from __future__ import annotations

import pytest

from tests.test_isolation import (  # noqa: F401 - collected here, with this folder's fixtures
    jwt_client,
    test_forbidden_and_unknown_look_the_same,
    test_foreign_events_are_never_reached,
    test_lists_null_each_foreign_entry_with_its_own_error,
    test_postgres_refuses_foreign_rows_even_if_the_gateway_check_fails,
)

pytestmark = pytest.mark.cluster
