"""Seeds the demo's source server with a small, realistic shop database.

The data is deterministic (fixed random seed) and covers what makes MongoDB data hard to
move: nested documents, arrays of subdocuments, ObjectId/Int64/Decimal128/UUID/binary/
Timestamp values, dates, and a field whose type varies between documents. The demo
databases (`demo_*`) are dropped first.

    python scripts/demo_seed.py mongodb://127.0.0.1:27117/
"""

from __future__ import annotations

import datetime
import random
import sys
import uuid

import pymongo
from bson import Binary, Decimal128, Int64, ObjectId, Regex, Timestamp

UTC = datetime.timezone.utc
CITIES = ["Lisbon", "Nairobi", "Osaka", "Quito", "Tallinn", "Winnipeg"]
PRODUCTS = ["kettle", "lamp", "notebook", "headphones", "backpack", "teapot", "monitor", "chair"]


def _oid(rng: random.Random) -> ObjectId:
    return ObjectId(bytes(rng.getrandbits(8) for _ in range(12)))


def seed(uri: str, *, customers: int = 200, orders: int = 1000, prefix: str = "demo_") -> dict[str, int]:
    """The databases `<prefix>shop` and `<prefix>crm` (a test gives a prefix of its own); documents per namespace."""
    with pymongo.MongoClient(uri) as client:
        return _seed(client, customers=customers, orders=orders, prefix=prefix)


def _seed(client: pymongo.MongoClient, *, customers: int, orders: int, prefix: str) -> dict[str, int]:
    rng = random.Random(20261122)
    shop_name, crm_name = f"{prefix}shop", f"{prefix}crm"
    for database in (shop_name, crm_name):
        client.drop_database(database)
    shop = client[shop_name]
    start = datetime.datetime(2024, 1, 1, tzinfo=UTC)

    customer_ids = [_oid(rng) for _ in range(customers)]
    shop.customers.insert_many(
        [
            {
                "_id": customer_id,
                "name": f"Customer {n}",
                "email": f"customer{n}@example.com",
                "address": {
                    "city": rng.choice(CITIES),
                    "geo": {"lat": rng.uniform(-60, 60), "lon": rng.uniform(-180, 180)},
                },
                "tags": rng.sample(["vip", "newsletter", "b2b", "returning"], k=rng.randint(0, 3)),
                "balance": Decimal128(f"{rng.randint(0, 100000) / 100:.2f}"),
                "signed_up_at": start + datetime.timedelta(days=rng.randint(0, 365)),
                "external_id": Binary(uuid.UUID(int=rng.getrandbits(128)).bytes, 4),
                "loyalty_points": Int64(rng.randint(0, 2**40)),
            }
            for n, customer_id in enumerate(customer_ids)
        ]
    )
    shop.customers.create_index("signed_up_at")

    shop.orders.insert_many(
        [
            {
                "_id": _oid(rng),
                "customer_id": rng.choice(customer_ids),
                "status": rng.choice(["open", "paid", "shipped", "refunded"]),
                "items": [
                    {
                        "sku": rng.choice(PRODUCTS),
                        "qty": rng.randint(1, 4),
                        "price": Decimal128(f"{rng.randint(100, 20000) / 100:.2f}"),
                    }
                    for _ in range(rng.randint(1, 5))
                ],
                "total_cents": Int64(rng.randint(100, 10**6)),
                "updated_at": start + datetime.timedelta(minutes=rng.randint(0, 500_000)),
                # Some shops stored coupons as strings, later as numbers: a mixed-type field.
                "coupon": rng.choice([None, "SPRING", 10, 25.5]),
            }
            for _ in range(orders)
        ]
    )
    shop.orders.create_index("updated_at")

    shop.products.insert_many(
        [
            {
                "_id": sku,
                "thumbnail": Binary(bytes(rng.getrandbits(8) for _ in range(32)), 0),
                "search_pattern": Regex(f"^{sku[:3]}", "i"),
                "dimensions_cm": [rng.randint(5, 80) for _ in range(3)],
                "last_restock": Timestamp(1_700_000_000 + rng.randint(0, 10**6), rng.randint(0, 10)),
            }
            for sku in PRODUCTS
        ]
    )

    client[crm_name].leads.insert_many(
        [{"_id": n, "source": rng.choice(["web", "event", "referral"]), "score": rng.random()} for n in range(50)]
    )
    return {
        f"{shop_name}.customers": customers,
        f"{shop_name}.orders": orders,
        f"{shop_name}.products": len(PRODUCTS),
        f"{crm_name}.leads": 50,
    }


if __name__ == "__main__":
    for namespace, count in seed(sys.argv[1]).items():
        sys.stdout.write(f"  {namespace}: {count} documents\n")
