#!/usr/bin/env bash
# Sets everything up and runs the main job, `meltano run tap-mongodb target-mongodb`, between two
# local MongoDB wire-protocol servers (SecantusDB, a test and demo dependency): a FULL_TABLE copy,
# then live changes on the source carried by a LOG_BASED run. Ends with a table comparing source
# and copy, and stops the servers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
# The ports meltano.yml's demo environment names.
SOURCE_PORT=27117
DESTINATION_PORT=27118
SOURCE="mongodb://127.0.0.1:$SOURCE_PORT/"
DESTINATION="mongodb://127.0.0.1:$DESTINATION_PORT/"

stop_servers() {
  python -m tests.support.server stop .demo/source-server
  python -m tests.support.server stop .demo/destination-server
}
trap stop_servers EXIT
rm -rf .demo
mkdir -p .demo
echo "Starting a source server ($SOURCE) and a destination server ($DESTINATION)..."
python -m tests.support.server start .demo/source-server "$SOURCE_PORT" >/dev/null
python -m tests.support.server start .demo/destination-server "$DESTINATION_PORT" >/dev/null

echo "Seeding the source:"
python scripts/demo_seed.py "$SOURCE"
echo "Installing the Meltano plugins..."
meltano --log-level=warning install extractor tap-mongodb tap-mongodb--log-based >/dev/null 2>&1
meltano --log-level=warning install loader target-mongodb >/dev/null 2>&1

run() {
  local log=".demo/$1.log"
  shift
  echo "Running: meltano run $*"
  local started=$SECONDS
  meltano run "$@" >"$log" 2>&1 || {
    tail -40 "$log"
    echo "The run failed; the full log is in $log" >&2
    exit 1
  }
  echo "  done in $((SECONDS - started)) s (log: $log)"
}

run full-table --full-refresh tap-mongodb target-mongodb
python scripts/demo_summary.py "$SOURCE" "$DESTINATION" || true

echo
run log-based-initial --full-refresh tap-mongodb--log-based target-mongodb
echo "  (initial sync done; the log position is saved in Meltano's state)"
echo "Live changes on the source:"
python scripts/demo_changes.py "$SOURCE"
run log-based tap-mongodb--log-based target-mongodb
grep -h "caught up with the cluster time" .demo/log-based.log | sed "s/^.*Log reading for/  Log reading for/" || true

echo
echo "Source and copy after the LOG_BASED run:"
python scripts/demo_summary.py "$SOURCE" "$DESTINATION"
cat <<'EOF'

identical: every document of the copy is the same BSON as its source, byte for byte.
Point the pair at your own MongoDB: docs/quickstart.md.
EOF
