"""Live changes on the demo's source, of every kind a log-based run must carry.

Inserts, an update that changes a field's type, a nested update, a replacement and a delete,
made after the log position was taken, so the next LOG_BASED run has to deliver them.

    python scripts/demo_changes.py mongodb://127.0.0.1:27117/
"""

from __future__ import annotations

import datetime
import sys

import pymongo
from bson import Decimal128, Int64, ObjectId

UTC = datetime.timezone.utc


def make_changes(uri: str) -> list[str]:
    client: pymongo.MongoClient = pymongo.MongoClient(uri, tz_aware=True)
    shop = client["demo_shop"]
    done: list[str] = []
    now = datetime.datetime.now(tz=UTC).replace(microsecond=0)
    new_orders = [
        {
            "_id": ObjectId(),
            "customer_id": None,
            "status": "open",
            "items": [{"sku": "teapot", "qty": 1, "price": Decimal128("19.90")}],
            "total_cents": Int64(1990),
            "updated_at": now,
            "coupon": None,
        }
        for _ in range(3)
    ]
    shop.orders.insert_many(new_orders)
    done.append("inserted 3 orders")
    first = shop.orders.find_one(sort=[("_id", 1)])
    shop.orders.update_one({"_id": first["_id"]}, {"$set": {"total_cents": "unknown (legacy client)"}})
    done.append("total_cents of one order: Int64 -> string (a type change)")
    customer = shop.customers.find_one(sort=[("_id", 1)])
    shop.customers.update_one(
        {"_id": customer["_id"]}, {"$set": {"address.city": "Reykjavik", "address.geo.accuracy_m": 12}}
    )
    done.append("nested update of one customer's address (a new nested key)")
    product = shop.products.find_one(sort=[("_id", 1)])
    shop.products.replace_one({"_id": product["_id"]}, {"dimensions_cm": {"w": 10, "h": 20, "d": 5}})
    done.append("replaced one product: dimensions_cm array -> document")
    lead = client["demo_crm"].leads.find_one(sort=[("_id", -1)])
    client["demo_crm"].leads.delete_one({"_id": lead["_id"]})
    done.append("deleted one lead")
    client.close()
    return done


if __name__ == "__main__":
    for line in make_changes(sys.argv[1]):
        sys.stdout.write(f"  {line}\n")
