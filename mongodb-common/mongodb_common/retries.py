"""Bounded exponential backoff for the errors a healthy deployment produces now and then.

Elections (primary step-down), dropped connections, a cursor killed on the server, a
server-selection timeout while a replica set elects: each is retried a bounded number of
times, waiting 1, 2, 4 ... seconds (capped), and the operation resumes from the last
position already handed on, never from the start. Progress resets the budget, so a long
sync survives any number of separate faults.

Messages name the cause as failure_causes tells it: which timeout fired, with its value.
When the budget runs out, the error gives the last cause and, when it differs, the first
(the one that started the outage: "the server stopped answering" rather than only the
server-selection timeouts that followed it).
"""

from __future__ import annotations

import dataclasses
import time
import typing as t

import pymongo.errors

from mongodb_common.cli_errors import ConnectorError
from mongodb_common.failure_causes import explain
from mongodb_common.timeouts import Timeouts

if t.TYPE_CHECKING:
    import logging

T = t.TypeVar("T")

# Server error codes that mean "try again": shutdown, step-down, not primary, interrupted
# by a replica-set state change, cursor gone.
RETRYABLE_CODES = frozenset({6, 7, 43, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})


class RetriesExhaustedError(ConnectorError):
    """A retryable error kept happening; the message names what and where."""


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (pymongo.errors.AutoReconnect, pymongo.errors.CursorNotFound)):
        return True
    if isinstance(exc, pymongo.errors.OperationFailure) and not isinstance(exc, pymongo.errors.BulkWriteError):
        return exc.code in RETRYABLE_CODES or exc.has_error_label("RetryableError")
    return False


@dataclasses.dataclass
class RetryPolicy:
    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    sleep: t.Callable[[float], None] = time.sleep
    timeouts: Timeouts = dataclasses.field(default_factory=Timeouts)

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> RetryPolicy:
        return cls(
            max_retries=int(config.get("max_retries", 5)),
            base_delay=float(config.get("retry_backoff_seconds", 1.0)),
            timeouts=Timeouts.from_config(config),
        )

    def delay(self, failures: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (failures - 1))

    def wait_or_give_up(
        self,
        failures: int,
        exc: BaseException,
        what: str,
        logger: logging.Logger,
        first_cause: str | None = None,
    ) -> str:
        """Sleep before retry number `failures`, or raise once the budget is spent.

        Returns the cause, for the caller to pass back as `first_cause` on later failures.
        """
        cause = explain(exc, self.timeouts)
        if failures > self.max_retries:
            msg = f"{what}: gave up after {self.max_retries} retries: {cause}"
            if first_cause and first_cause != cause:
                msg += f" (first failure: {first_cause})"
            raise RetriesExhaustedError(msg) from None
        delay = self.delay(failures)
        logger.warning("%s: %s; retry %d of %d in %.1f s", what, cause, failures, self.max_retries, delay)
        self.sleep(delay)
        return first_cause or cause


def iterate_with_retries(
    open_iterator: t.Callable[[], t.Iterable[T]],
    policy: RetryPolicy,
    describe: t.Callable[[], str],
    logger: logging.Logger,
) -> t.Iterator[T]:
    """Items of `open_iterator()`, reopened after a retryable error.

    `open_iterator` is called again on each retry and must start after the last item this
    generator yielded (the caller's position).
    """
    failures = 0
    first_cause: str | None = None
    while True:
        try:
            for item in open_iterator():
                failures, first_cause = 0, None
                yield item
            return
        except Exception as exc:
            if not is_retryable(exc):
                raise
            failures += 1
            first_cause = policy.wait_or_give_up(failures, exc, describe(), logger, first_cause)


def call_with_retries(call: t.Callable[[], T], policy: RetryPolicy, what: str, logger: logging.Logger) -> T:
    failures = 0
    first_cause: str | None = None
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_retryable(exc):
                raise
            failures += 1
            first_cause = policy.wait_or_give_up(failures, exc, what, logger, first_cause)
