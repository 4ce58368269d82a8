"""Retryable errors during reads and writes: retried with backoff, resumed, never lost or doubled.

Each test prints its seed on failure; rerun with it to reproduce.
"""

from __future__ import annotations

import typing as t

import pytest

from mongodb_common.retries import RetriesExhaustedError
from tap_mongodb.tap import TapMongoDB
from target_mongodb.target import TargetMongoDB
from tests.support.faulty_client import FaultPlan, FaultyClient
from tests.support.singer_io import discover, last_state, records, run_tap, run_target, select_streams

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

SEEDS = [3, 17, 2024]
NO_WAIT = {"retry_backoff_seconds": 0, "max_retries": 8}


def _faulty(monkeypatch: pytest.MonkeyPatch, plugin: type, deployment: Deployment, plan: FaultPlan) -> None:
    monkeypatch.setattr(plugin, "client", property(lambda _self: FaultyClient(deployment.client, plan)))


@pytest.mark.parametrize("seed", SEEDS)
def test_full_table_read_survives_faults_and_resumes_where_it_was(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    deployment.database("shop").orders.insert_many([{"_id": i} for i in range(200)])
    plan = FaultPlan(seed, rate=0.03)
    _faulty(monkeypatch, TapMongoDB, deployment, plan)
    ids = [r["_id"] for r in records(run_tap(deployment.config(**NO_WAIT)))]
    assert sorted(set(ids)) == list(range(200)), f"seed {seed}"
    assert ids == sorted(ids), f"seed {seed}: a retry went back to the start"
    assert plan.injected > 0, f"seed {seed} injected no fault"


@pytest.mark.parametrize("seed", SEEDS)
def test_incremental_read_survives_faults(deployment: Deployment, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    orders = deployment.database("shop").orders
    orders.insert_many([{"_id": i, "k": i // 3} for i in range(150)])
    stream = f"{deployment.prefix}shop-orders"
    catalog = select_streams(
        discover(deployment.config()), [stream], replication_method="INCREMENTAL", replication_key="k"
    )
    plan = FaultPlan(seed, rate=0.03)
    _faulty(monkeypatch, TapMongoDB, deployment, plan)
    messages = run_tap(deployment.config(**NO_WAIT), catalog=catalog)
    assert {r["_id"] for r in records(messages)} == set(range(150)), f"seed {seed}"
    assert last_state(messages)["bookmarks"][stream]["replication_key_value"] == 49


def test_when_retries_run_out_the_error_names_stream_and_position_and_state_stays_valid(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment.database("shop").orders.insert_many([{"_id": i} for i in range(30)])
    plan = FaultPlan(7, rate=0.0)
    _faulty(monkeypatch, TapMongoDB, deployment, plan)
    original, handed_out = plan.maybe_fail, {"documents": 0}

    def server_gone_after_twelve_calls() -> None:  # find() and 11 documents
        handed_out["documents"] += 1
        plan.always = handed_out["documents"] > 12
        original()

    plan.maybe_fail = server_gone_after_twelve_calls  # type: ignore[method-assign]
    failed: list[dict[str, t.Any]] = []
    with pytest.raises(
        RetriesExhaustedError, match=r"shop-orders', full-table read after _id 10: gave up after 2 retries"
    ):
        run_tap(
            deployment.config(retry_backoff_seconds=0, max_retries=2, state_interval_records=5), messages_out=failed
        )
    state = last_state(failed)
    assert state["bookmarks"][f"{deployment.prefix}shop-orders"]["last_id"] == 9  # the last STATE before the fault

    plan.always, plan.maybe_fail = False, original  # type: ignore[method-assign]
    resumed = records(run_tap(deployment.config(**NO_WAIT), state=state))
    assert [r["_id"] for r in resumed] == list(range(10, 30))


@pytest.mark.parametrize("seed", SEEDS)
def test_target_writes_survive_faults_without_loss_or_duplicates(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    from tests.support.singer_io import record_message, schema_message

    plan = FaultPlan(seed, rate=0.2)
    _faulty(monkeypatch, TargetMongoDB, deployment, plan)
    keyed = schema_message("orders", {"_id": {"type": "integer"}, "v": {"type": "integer"}}, ["_id"])
    unkeyed = schema_message("events", {"n": {"type": "integer"}}, [])
    messages = [keyed, unkeyed]
    for n in range(300):
        messages.append(record_message("orders", {"_id": n % 40, "v": n}))
        messages.append(record_message("events", {"n": n}))
    run_target(deployment.config(database=deployment.db_name("dst"), batch_size_rows=25, **NO_WAIT), messages)
    destination = deployment.database("dst")
    assert {d["_id"]: d["v"] for d in destination.orders.find()} == {n % 40: n for n in range(300)}, f"seed {seed}"
    assert sorted(d["n"] for d in destination.events.find()) == list(range(300)), f"seed {seed}"
    assert plan.injected > 0


def test_a_missing_privilege_names_the_action_namespace_and_role(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pymongo.errors

    from mongodb_common.privileges import MissingPrivilegeError

    deployment.database("shop").orders.insert_one({"_id": 1})
    plan = FaultPlan(1, rate=0.0)
    _faulty(monkeypatch, TapMongoDB, deployment, plan)
    unauthorized = {
        "ok": 0.0,
        "errmsg": 'not authorized on shop to execute command { find: "orders" }',
        "code": 13,
        "codeName": "Unauthorized",
    }

    def refuse() -> None:
        raise pymongo.errors.OperationFailure(unauthorized["errmsg"], 13, unauthorized)

    plan.maybe_fail = refuse  # type: ignore[method-assign]
    with pytest.raises(
        MissingPrivilegeError,
        match=rf"not authorized to find on {deployment.prefix}shop.orders: grant the user the `read` role",
    ):
        run_tap(deployment.config(**NO_WAIT))
