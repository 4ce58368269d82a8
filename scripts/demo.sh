#!/usr/bin/env bash
# Sets everything up and runs the main job, `meltano run tap-mongodb target-mongodb`, against
# the embedded stand-in seeded with a sample shop database. No MongoDB server needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
SOURCE="litemongo://$PWD/.demo/source"
DESTINATION="litemongo://$PWD/.demo/destination"

echo "Seeding the demo source database ($SOURCE):"
rm -rf .demo/destination
python scripts/demo_seed.py "$SOURCE"
echo "Installing the Meltano plugins..."
meltano --log-level=warning install extractor tap-mongodb >/dev/null 2>&1
meltano --log-level=warning install loader target-mongodb >/dev/null 2>&1
echo "Running: meltano run tap-mongodb target-mongodb"
started=$(date +%s.%N)
meltano run --full-refresh tap-mongodb target-mongodb > .demo/meltano-run.log 2>&1 || {
  tail -40 .demo/meltano-run.log
  echo "The run failed; the full log is in .demo/meltano-run.log" >&2
  exit 1
}
finished=$(date +%s.%N)
python scripts/demo_summary.py "$SOURCE" "$DESTINATION" "$(python -c "print(round($finished - $started, 1))")"
