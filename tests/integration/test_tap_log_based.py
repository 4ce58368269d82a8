"""LOG_BASED on the real server: every kind of change produced for real, with both log methods.

Each test writes to the server and reads what the tap emits: inserts, updates (nested too),
replaces, deletes, short-lived documents, transactions, drops, renames, dropDatabase, and a
busy database nobody follows. Nothing here replaces a cursor; documents only mongod writes
(applyOps, its resume-token layout, sharded event shapes) are covered by recorded documents in
tests/unit/test_log_translation.py.
"""

from __future__ import annotations

import logging
import threading
import typing as t

import pytest
from bson import Decimal128, ObjectId

from tap_mongodb.log_session import LogInvalidatedError
from tests.support.busy_writer import BusyWriter
from tests.support.singer_io import discover, last_state, records, run_tap, run_target, select_streams

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

METHODS = ["change_streams", "oplog"]
DELETED_AT = "_sdc_deleted_at"


class Shop:
    """A followed database `shop` (orders, customers) in a test's own deployment."""

    def __init__(self, deployment: Deployment, log_method: str, **settings: t.Any) -> None:
        self.deployment = deployment
        self.db = deployment.database("shop")
        self.orders_stream = f"{deployment.prefix}shop-orders"
        self.customers_stream = f"{deployment.prefix}shop-customers"
        self.db.orders.insert_many([{"_id": 1, "status": "open", "total": Decimal128("5.00")}, {"_id": 2}])
        self.db.customers.insert_one({"_id": "c1", "name": "Ada"})
        self.settings = {"log_method": log_method, "database_includes": [deployment.db_name("shop")], **settings}
        streams = [self.orders_stream, self.customers_stream]
        self.catalog = select_streams(discover(self.config()), streams, replication_method="LOG_BASED")
        self.state: dict[str, t.Any] = {}

    def config(self, **overrides: t.Any) -> dict[str, t.Any]:
        return self.deployment.config(**{**self.settings, **overrides})

    def run(self, **overrides: t.Any) -> list[dict[str, t.Any]]:
        messages = run_tap(self.config(**overrides), catalog=self.catalog, state=self.state or None)
        self.state = last_state(messages) or self.state
        return messages

    def position(self, stream: str) -> t.Any:
        return self.state["bookmarks"][stream].get("log_position")


def _keys(rows: list[dict[str, t.Any]]) -> list[tuple[t.Any, bool]]:
    return [(row["_id"], DELETED_AT in row) for row in rows]


@pytest.mark.parametrize("log_method", METHODS)
def test_initial_sync_then_every_change_kind_in_order(deployment: Deployment, log_method: str) -> None:
    shop = Shop(deployment, log_method)
    first = shop.run()
    assert sorted(r["_id"] for r in records(first, shop.orders_stream)) == [1, 2]
    before = shop.position(shop.customers_stream)

    orders = shop.db.orders
    orders.insert_one({"_id": 3, "status": "new", "items": [{"sku": "kettle", "qty": 1}]})
    orders.update_one({"_id": 1}, {"$set": {"status": "paid", "address.city": "Lyon"}})
    orders.update_one({"_id": 3}, {"$inc": {"items.0.qty": 2}})
    orders.replace_one({"_id": 2}, {"replaced": True})
    orders.insert_one({"_id": 4, "short": "lived"})
    orders.delete_one({"_id": 4})
    orders.delete_one({"_id": 1})

    second = shop.run()
    rows = records(second, shop.orders_stream)
    # In log order. Updates carry the document's state when read, so the update of order 1
    # (deleted since) emits nothing: its delete follows.
    assert _keys(rows) == [(3, False), (3, False), (2, False), (4, False), (4, True), (1, True)]
    assert rows[0]["items"] == [{"sku": "kettle", "qty": 1}]
    assert rows[1]["items"] == [{"sku": "kettle", "qty": 3}]
    assert rows[2] == {"_id": 2, "replaced": True}
    assert rows[3] == {"_id": 4, "short": "lived"}
    assert records(second, shop.customers_stream) == []
    # The quiet stream's position moved too.
    assert shop.position(shop.customers_stream) != before

    third = shop.run()
    assert records(third) == []


@pytest.mark.parametrize("log_method", METHODS)
def test_changes_counted_by_operation_type_in_metrics(
    deployment: Deployment, log_method: str, caplog: pytest.LogCaptureFixture
) -> None:
    shop = Shop(deployment, log_method)
    shop.run()
    shop.db.orders.insert_many([{"_id": 10}, {"_id": 11}])
    shop.db.orders.update_one({"_id": 10}, {"$set": {"v": 1}})
    shop.db.orders.replace_one({"_id": 11}, {"v": 2})
    shop.db.orders.delete_one({"_id": 2})
    with caplog.at_level(logging.INFO):
        shop.run()
    counts = {
        (record.args[0].tags.get("operation_type"), record.args[0].value)  # type: ignore[index, union-attr]
        for record in caplog.records
        if record.name == "singer_sdk.metrics"
        and record.args
        and getattr(record.args[0], "tags", {}).get("stream") == shop.orders_stream  # type: ignore[index]
        and getattr(record.args[0], "tags", {}).get("operation_type")  # type: ignore[index]
    }
    assert counts == {("insert", 2), ("update", 1), ("replace", 1), ("delete", 1)}
    assert "5 changes emitted (insert 2, update 1, replace 1, delete 1)" in caplog.text
    assert "behind the cluster" in caplog.text


@pytest.mark.parametrize("log_method", METHODS)
def test_a_quiet_followed_database_while_another_is_busy_gets_every_change_each_run(
    deployment: Deployment, log_method: str
) -> None:
    shop = Shop(deployment, log_method)
    shop.run()
    with BusyWriter(deployment) as busy:
        for run in range(3):
            ids = list(range(100 * (run + 1), 100 * (run + 1) + 15))
            for i in ids:
                shop.db.orders.insert_one({"_id": i})
            busy.wait_for(1_000 * (run + 1))  # a thousand foreign entries more in the log each run
            messages = shop.run()
            assert sorted(r["_id"] for r in records(messages, shop.orders_stream)) == ids, f"run {run}"
    assert busy.written >= 3_000


@pytest.mark.parametrize("log_method", METHODS)
def test_many_short_runs_with_writes_during_them_leave_the_copy_identical(
    deployment: Deployment, log_method: str
) -> None:
    shop = Shop(deployment, log_method, bson_encoding="extended_json")
    target = deployment.config(database=deployment.db_name("dst"), collection_naming="strip_database_prefix")
    run_target(target, shop.run())
    orders = shop.db.orders
    counter = {"n": 1000}

    def writes(count: int) -> None:
        for _ in range(count):
            n = counter["n"] = counter["n"] + 1
            orders.insert_one({"_id": n, "v": 0, "nested": {"a": n}})
            orders.update_one({"_id": n - 1}, {"$set": {"v": 1, "nested.b": n}})
            if n % 3 == 0:
                orders.delete_one({"_id": n - 2})
            if n % 4 == 0:
                orders.replace_one({"_id": n - 1}, {"v": 2, "replaced": n})

    for _ in range(8):
        writer = threading.Thread(target=writes, args=(6,))
        writer.start()  # writes while the run reads
        messages = shop.run(bson_encoding="extended_json")
        writer.join()
        run_target(target, messages)
        writes(2)  # and between runs
    run_target(target, shop.run(bson_encoding="extended_json"))
    source = {d["_id"]: d for d in orders.find()}
    copied = {d["_id"]: d for d in deployment.database("dst").orders.find()}
    assert copied == source


@pytest.mark.parametrize("log_method", METHODS)
def test_a_transactions_changes_all_arrive_in_order(deployment: Deployment, log_method: str) -> None:
    shop = Shop(deployment, log_method)
    shop.run()
    client = deployment.client
    with client.start_session() as session, session.start_transaction():
        shop.db.orders.insert_one({"_id": 20, "v": "a"}, session=session)
        shop.db.customers.insert_one({"_id": "c2", "name": "Grace"}, session=session)
        shop.db.orders.update_one({"_id": 20}, {"$set": {"v": "b"}}, session=session)
        shop.db.orders.delete_one({"_id": 2}, session=session)
        shop.db.orders.insert_one({"_id": 21}, session=session)
    messages = shop.run()
    rows = records(messages, shop.orders_stream)
    assert [(r["_id"], DELETED_AT in r) for r in rows] == [(20, False), (20, False), (2, True), (21, False)]
    assert (rows[0]["v"], rows[1]["v"]) == ("a", "b")
    assert records(messages, shop.customers_stream) == [{"_id": "c2", "name": "Grace"}]
    assert records(shop.run()) == []


@pytest.mark.parametrize("log_method", METHODS)
@pytest.mark.parametrize(
    ("action", "resynced"),
    [
        ("drop", {"orders"}),
        ("rename", {"orders"}),
        ("rename_onto", {"orders", "customers"}),
        ("dropDatabase", {"orders", "customers"}),
    ],
)
def test_drops_and_renames_resync_the_streams_they_touch(
    deployment: Deployment, log_method: str, action: str, resynced: set[str], caplog: pytest.LogCaptureFixture
) -> None:
    shop = Shop(deployment, log_method)
    shop.run()
    shop.db.orders.insert_one({"_id": 30})
    if action == "drop":
        shop.db.orders.drop()
    elif action == "rename":
        shop.db.orders.rename("orders_archive")
    elif action == "rename_onto":
        shop.db.orders.rename("customers", dropTarget=True)
    else:
        deployment.client.drop_database(shop.db.name)
    with caplog.at_level(logging.WARNING):
        messages = shop.run()
    state = last_state(messages)["bookmarks"]
    for name, stream in (("orders", shop.orders_stream), ("customers", shop.customers_stream)):
        assert ("log_position" not in state[stream]) is (name in resynced), name
        if name in resynced:
            assert f"stream {stream!r}: the log reports" in caplog.text
    if action == "drop":
        assert records(messages, shop.orders_stream) == [{"_id": 30}]  # changes before the drop still arrive


@pytest.mark.parametrize("log_method", METHODS)
def test_a_drop_can_fail_the_run_naming_the_stream(deployment: Deployment, log_method: str) -> None:
    shop = Shop(deployment, log_method)
    shop.run()
    shop.db.orders.drop()
    with pytest.raises(LogInvalidatedError, match=f"stream '{shop.orders_stream}'.*drop of"):
        shop.run(log_invalidation="fail")


@pytest.mark.parametrize("log_method", METHODS)
def test_a_resynced_stream_gets_a_new_initial_sync_with_its_current_documents(
    deployment: Deployment, log_method: str
) -> None:
    shop = Shop(deployment, log_method)
    shop.run()
    shop.db.orders.drop()
    shop.run()
    shop.db.orders.insert_many([{"_id": 40}, {"_id": 41}])
    messages = shop.run()
    assert sorted(r["_id"] for r in records(messages, shop.orders_stream)) == [40, 41]
    assert any(m["type"] == "ACTIVATE_VERSION" and m["stream"] == shop.orders_stream for m in messages)
    assert shop.position(shop.orders_stream)


@pytest.mark.parametrize("log_method", METHODS)
def test_operation_types_limit_what_is_emitted(deployment: Deployment, log_method: str) -> None:
    shop = Shop(deployment, log_method, operation_types=["insert", "delete"])
    shop.run()
    shop.db.orders.insert_one({"_id": 50})
    shop.db.orders.update_one({"_id": 1}, {"$set": {"status": "ignored"}})
    shop.db.orders.replace_one({"_id": 50}, {"ignored": True})
    shop.db.orders.delete_one({"_id": 2})
    rows = records(shop.run(), shop.orders_stream)
    assert _keys(rows) == [(50, False), (2, True)]


@pytest.mark.parametrize("log_method", METHODS)
def test_start_date_skips_the_initial_sync_and_reads_the_log_from_then(deployment: Deployment, log_method: str) -> None:
    shop = Shop(deployment, log_method)
    now = deployment.client.admin.command("hello")["lastWrite"]["majorityOpTime"]["ts"]
    shop.db.orders.insert_one({"_id": 60})
    shop.db.orders.update_one({"_id": 1}, {"$set": {"status": "later"}})
    messages = shop.run(start_date=f"{now.time}:{now.inc}")
    rows = records(messages, shop.orders_stream)
    assert [r["_id"] for r in rows] == [60, 1]  # no initial sync: only what changed since
    assert not any(m["type"] == "ACTIVATE_VERSION" for m in messages)


def test_deletes_carry_the_last_values_where_the_collection_keeps_pre_images(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    shop = Shop(deployment, "change_streams")
    shop.db.create_collection("ledger", changeStreamPreAndPostImages={"enabled": True})
    shop.db.ledger.insert_one({"_id": "L1", "amount": 7, "memo": "kept"})
    ledger = f"{deployment.prefix}shop-ledger"
    shop.catalog = select_streams(discover(shop.config()), [shop.orders_stream, ledger], replication_method="LOG_BASED")
    with caplog.at_level(logging.INFO):
        shop.run()
    assert f"stream {shop.orders_stream!r}: no pre-images" in caplog.text
    assert f"stream {ledger!r}: no pre-images" not in caplog.text
    shop.db.ledger.update_one({"_id": "L1"}, {"$set": {"amount": 9}})
    shop.db.ledger.delete_one({"_id": "L1"})
    shop.db.orders.delete_one({"_id": 2})
    messages = shop.run()
    deleted = records(messages, ledger)[-1]
    assert deleted["_id"] == "L1"
    assert (deleted["amount"], deleted["memo"]) == (9, "kept")
    assert deleted[DELETED_AT]
    assert set(records(messages, shop.orders_stream)[-1]) == {"_id", DELETED_AT}


@pytest.mark.parametrize("log_method", METHODS)
def test_new_stream_joins_streams_already_following_the_log(deployment: Deployment, log_method: str) -> None:
    shop = Shop(deployment, log_method)
    only_orders = select_streams(discover(shop.config()), [shop.orders_stream], replication_method="LOG_BASED")
    both = shop.catalog
    shop.catalog = only_orders
    shop.run()
    shop.db.orders.insert_one({"_id": 70})
    shop.db.customers.insert_one({"_id": "c70"})
    shop.catalog = both  # customers joins: initial sync now, at a later position than orders
    messages = shop.run()
    assert [r["_id"] for r in records(messages, shop.orders_stream)] == [70]
    # The joining stream may see changes its initial sync already read again (harmless upserts).
    assert {r["_id"] for r in records(messages, shop.customers_stream)} == {"c1", "c70"}
    shop.db.orders.insert_one({"_id": 71})
    shop.db.customers.insert_one({"_id": "c71"})
    messages = shop.run()
    assert [r["_id"] for r in records(messages, shop.orders_stream)] == [71]
    assert [r["_id"] for r in records(messages, shop.customers_stream)] == ["c71"]


def test_object_ids_and_decimals_survive_the_log(deployment: Deployment) -> None:
    shop = Shop(deployment, "change_streams", bson_encoding="extended_json")
    shop.run()
    oid = ObjectId()
    shop.db.orders.insert_one({"_id": oid, "total": Decimal128("19.90")})
    rows = records(shop.run(), shop.orders_stream)
    assert rows == [{"_id": {"$oid": str(oid)}, "total": {"$numberDecimal": "19.90"}}]
