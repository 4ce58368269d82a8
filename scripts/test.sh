#!/usr/bin/env bash
# The whole test suite: sets up .venv if needed, lints, then runs every test.
# Against a real replica set too: MONGODB_URI='mongodb://...' bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The SSH tunnel tests need a real OpenSSH server (Debian's openssh-server); install it
# when we may. Without it they are skipped locally and fail under CI.
if [ ! -x /usr/sbin/sshd ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server) >/dev/null 2>&1 \
    || echo "could not install openssh-server; SSH tunnel tests will not run" >&2
fi
# The PostgreSQL tests start Debian's server themselves (tests/support/postgres.py); install it
# when missing. Without it those tests fail, saying so (set POSTGRES_URI to use another server).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1 \
    || echo "could not install postgresql; the PostgreSQL tests will fail" >&2
fi
.venv/bin/ruff check .
# Two test processes per core: most tests wait on servers and on the connectors they start as
# processes, so one per core leaves the cores half idle. At most 8 (each runs its own servers).
workers=${PYTEST_WORKERS:-$(( $(nproc) * 2 > 8 ? 8 : $(nproc) * 2 ))}
# --dist loadgroup: modules marked xdist_group (those that install Meltano plugins) stay on one process.
.venv/bin/python -m pytest -n "$workers" --dist loadgroup "$@"
