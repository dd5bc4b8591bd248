#!/usr/bin/env bash
# A resumable batch of inpaints: makes the parent image, draws the masks, fills in
# requests.jsonl, and runs it. Rerun the printed batch command to resume after a stop.
#
#   imaginepro-async simulate --time-scale 50 &   # or your real key: export IMAGINEPRO_API_KEY=sk-...
#   (paste the export lines it prints)
#   examples/batch.sh [WORKDIR]                    # default: a new temporary folder
set -euo pipefail
cli=${IMAGINEPRO_CLI:-imaginepro-async}
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"

grid=$($cli imagine "a harbour at dawn, fishing boats, oil painting" -q)
up=$($cli upscale "$grid" 1 -q --download "$work/harbour.png")
$cli mask --image "$work/harbour.png" --ellipse 0.55 0.55 0.95 0.95 --relative -o "$work/boat-mask.png"
$cli mask --image "$work/harbour.png" --rect 0 0 1 0.35 --relative -o "$work/sky-mask.png"
sed "s/PARENT/$up/g" "$here/requests.jsonl" > "$work/requests.jsonl"
# The journal goes to the user's state folder ($XDG_STATE_HOME/imaginepro-async/journals), never
# beside the input; --journal FILE puts it elsewhere.
$cli batch "$work/requests.jsonl" --out "$work/results.jsonl" --download "$work/images"
echo "results: $work/results.jsonl; images: $work/images"
