"""Realistic documents of three sizes, deterministic, for the benchmarks."""

from __future__ import annotations

import datetime
import random
import uuid

from bson import Binary, Decimal128, Int64, ObjectId, Timestamp

UTC = datetime.timezone.utc
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


def _oid(rng: random.Random) -> ObjectId:
    return ObjectId(bytes(rng.getrandbits(8) for _ in range(12)))


def small(rng: random.Random, n: int) -> dict:
    """About 200 bytes of BSON, flat."""
    return {
        "_id": _oid(rng),
        "seq": n,
        "name": f"{rng.choice(WORDS)} {rng.choice(WORDS)}",
        "active": rng.random() < 0.5,
        "score": rng.random() * 100,
        "created_at": datetime.datetime(2024, 1, 1, tzinfo=UTC) + datetime.timedelta(seconds=n),
        "count": Int64(rng.randint(0, 2**40)),
        "email": f"user{n}@example.com",
        "city": rng.choice(WORDS).title(),
    }


def medium(rng: random.Random, n: int) -> dict:
    """About 2 KB: nested objects, arrays of subdocuments, mixed BSON types."""
    return {
        "_id": _oid(rng),
        "seq": n,
        "customer": {
            "name": f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}",
            "address": {
                "street": f"{rng.randint(1, 999)} {rng.choice(WORDS)} st",
                "city": rng.choice(WORDS),
                "geo": [rng.random(), rng.random()],
            },
            "external_id": Binary(uuid.UUID(int=rng.getrandbits(128)).bytes, 4),
        },
        "items": [
            {
                "sku": f"{rng.choice(WORDS)}-{rng.randint(0, 9999)}",
                "qty": rng.randint(1, 9),
                "price": Decimal128(f"{rng.randint(100, 99999) / 100:.2f}"),
                "tags": rng.sample(WORDS, 3),
            }
            for _ in range(8)
        ],
        "status": rng.choice(["open", "paid", "shipped"]),
        "total": Decimal128(f"{rng.randint(100, 999999) / 100:.2f}"),
        "updated_at": datetime.datetime(2024, 1, 1, tzinfo=UTC) + datetime.timedelta(seconds=n * 7),
        "version": Timestamp(1_700_000_000 + n, 1),
        "notes": " ".join(rng.choice(WORDS) for _ in range(60)),
        "flags": {f"f{i}": rng.random() < 0.5 for i in range(10)},
    }


def large(rng: random.Random, n: int) -> dict:
    """About 50 KB: a long history array and a text body."""
    return {
        "_id": _oid(rng),
        "seq": n,
        "body": " ".join(rng.choice(WORDS) for _ in range(3000)),
        "history": [
            {
                "at": datetime.datetime(2024, 1, 1, tzinfo=UTC) + datetime.timedelta(minutes=i),
                "event": rng.choice(WORDS),
                "value": rng.random(),
                "by": _oid(rng),
            }
            for i in range(300)
        ],
        "metrics": [rng.random() for _ in range(500)],
    }


SHAPES = {"small": small, "medium": medium, "large": large}


def generate(shape: str, count: int, seed: int = 42) -> list[dict]:
    rng = random.Random(seed)
    make = SHAPES[shape]
    return [make(rng, n) for n in range(count)]


def nested(rng: random.Random, n: int) -> dict:
    """About 6 KB, array-heavy: arrays of arrays, documents four levels deep."""
    return {
        "_id": _oid(rng),
        "seq": n,
        "matrix": [[rng.randint(0, 1000) for _ in range(8)] for _ in range(8)],
        "tree": {
            "level1": {
                "level2": {
                    "level3": {"values": [rng.random() for _ in range(10)], "label": rng.choice(WORDS)},
                    "ids": [_oid(rng) for _ in range(5)],
                },
                "when": [datetime.datetime(2024, 1, 1, tzinfo=UTC) + datetime.timedelta(hours=i) for i in range(5)],
            },
        },
        "events": [
            {"kind": rng.choice(WORDS), "tags": rng.sample(WORDS, 4), "points": [[rng.random(), rng.random()]] * 3}
            for _ in range(12)
        ],
        "counts": [Int64(rng.randint(0, 2**40)) for _ in range(20)],
    }


SHAPES["nested"] = nested
