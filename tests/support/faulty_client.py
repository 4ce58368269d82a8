"""A pymongo client wrapper that raises the errors pymongo raises, at random points.

Seeded, so a failing test names the seed that reproduces it. Reads fail before a document
is handed out; writes fail either before reaching the server or after it applied them (the
acknowledgement "lost"), the case where a retry must not duplicate anything.
"""

from __future__ import annotations

import random
import typing as t

import pymongo.errors

FAULTS: tuple[t.Callable[[], Exception], ...] = (
    lambda: pymongo.errors.AutoReconnect("connection reset by peer"),
    lambda: pymongo.errors.NotPrimaryError("not primary"),
    lambda: pymongo.errors.NetworkTimeout("timed out"),
    lambda: pymongo.errors.CursorNotFound("cursor id 123 not found", 43),
    lambda: pymongo.errors.OperationFailure("PrimarySteppedDown", 189),
)


class FaultPlan:
    def __init__(self, seed: int, rate: float, *, always: bool = False) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.rate = rate
        self.always = always
        self.injected = 0

    def maybe_fail(self) -> None:
        if self.always or self.rng.random() < self.rate:
            self.injected += 1
            raise self.rng.choice(FAULTS)()


class FaultyCursor:
    def __init__(self, cursor: t.Any, plan: FaultPlan) -> None:
        self._cursor = cursor
        self._plan = plan

    def batch_size(self, size: int) -> FaultyCursor:
        self._cursor = self._cursor.batch_size(size)
        return self

    def __iter__(self) -> t.Iterator[t.Any]:
        for document in self._cursor:
            self._plan.maybe_fail()
            yield document


class _Wrapper:
    """Delegates everything it does not override to the wrapped pymongo object."""

    def __init__(self, wrapped: t.Any, plan: FaultPlan) -> None:
        self._wrapped = wrapped
        self._plan = plan

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._wrapped, name)


class FaultyCollection(_Wrapper):
    def find(self, *args: t.Any, **kwargs: t.Any) -> FaultyCursor:
        self._plan.maybe_fail()
        return FaultyCursor(self._wrapped.find(*args, **kwargs), self._plan)

    def bulk_write(self, requests: list[t.Any], **kwargs: t.Any) -> t.Any:
        self._plan.maybe_fail()  # lost on the way to the server
        result = self._wrapped.bulk_write(requests, **kwargs)
        self._plan.maybe_fail()  # applied, but the acknowledgement was lost
        return result

    def with_options(self, **kwargs: t.Any) -> FaultyCollection:
        return FaultyCollection(self._wrapped.with_options(**kwargs), self._plan)


class FaultyDatabase(_Wrapper):
    def __getitem__(self, name: str) -> FaultyCollection:
        return FaultyCollection(self._wrapped[name], self._plan)

    def get_collection(self, name: str, **kwargs: t.Any) -> FaultyCollection:
        return FaultyCollection(self._wrapped.get_collection(name, **kwargs), self._plan)


class FaultyClient(_Wrapper):
    def __getitem__(self, name: str) -> FaultyDatabase:
        return FaultyDatabase(self._wrapped[name], self._plan)
