#!/usr/bin/env bash
# npm run notebooks: executes every notebook in notebooks/ against a demo database of its own (a
# scratch TAGWISE_DATA_DIR, a free port), leaving executed copies in notebooks/build/. Fails on the
# first cell that fails, and when an executed notebook holds no SVG chart.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"

# Read whole first: grep -q stops reading early, and pipefail would count the writer's SIGPIPE.
kernels="$(jupyter kernelspec list 2>/dev/null)"
if ! grep -qw tslab <<<"$kernels"; then
  tslab install --python=/usr/bin/python3
fi

scratch="$(mktemp -d)"
stop_postgres() {
  # A kernel that died mid-notebook may leave its embedded PostgreSQL behind.
  if [ -f "$scratch/pg/postmaster.pid" ]; then
    kill "$(head -n 1 "$scratch/pg/postmaster.pid")" 2>/dev/null || true
    sleep 1
  fi
  rm -rf "$scratch"
}
trap stop_postgres EXIT

unset DATABASE_URL
export TAGWISE_DATA_DIR="$scratch"
export TAGWISE_PG_PORT="${TAGWISE_PG_PORT:-$(node -e "const s=require('net').createServer();s.listen(0,()=>{console.log(s.address().port);s.close()})")}"
export TAGWISE_DEMO_CUSTOMERS="${TAGWISE_DEMO_CUSTOMERS:-1500}"
# The kernels (tslab) run project TypeScript: its modules load through the SWC hooks.
export NODE_OPTIONS="--import $root/bin/register.js ${NODE_OPTIONS:-}"
export LOG_LEVEL="${LOG_LEVEL:-warn}"

node notebooks/demo-database.ts

cd notebooks

mkdir -p build
for notebook in [0-9][0-9]-*.ipynb; do
  name="${notebook%.ipynb}"
  echo "executing $notebook"
  if ! jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
    --output-dir build "$notebook" --log-level WARN; then
    # tslab's error reply carries no message: the cause is in the failed cell's stderr.
    jupyter nbconvert --to notebook --execute --allow-errors --ExecutePreprocessor.timeout=600 \
      --output-dir build --output "$name.failed" "$notebook" --log-level ERROR || true
    /usr/bin/python3 - "build/$name.failed.ipynb" <<'EOF'
import json, sys
for cell in json.load(open(sys.argv[1]))['cells']:
    for out in cell.get('outputs', []):
        if out.get('name') == 'stderr':
            print(''.join(cell['source']), '\n---\n', ''.join(out['text']), file=sys.stderr)
EOF
    echo "$notebook failed (executed copy: notebooks/build/$name.failed.ipynb)" >&2
    exit 1
  fi
  /usr/bin/python3 - "build/$notebook" <<'EOF'
import json, sys
cells = json.load(open(sys.argv[1]))['cells']
charts = sum('image/svg+xml' in out.get('data', {}) for c in cells for out in c.get('outputs', []))
if charts == 0:
    sys.exit(f'{sys.argv[1]}: no SVG chart in the executed notebook')
print(f'{sys.argv[1]}: {charts} chart(s)')
EOF
done
