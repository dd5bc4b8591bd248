#!/usr/bin/env bash
# From a prompt to an inpainting with the command line only.
#
#   imaginepro-async simulate --time-scale 50 &   # or your real key: export IMAGINEPRO_API_KEY=sk-...
#   (paste the export lines it prints)
#   examples/inpaint.sh [WORKDIR]                  # default: a new temporary folder
set -euo pipefail
cli=${IMAGINEPRO_CLI:-imaginepro-async}
work=${1:-$(mktemp -d)}
mkdir -p "$work"

grid=$($cli imagine "a harbour at dawn, fishing boats, oil painting" -q)
echo "grid:     $grid"
up=$($cli upscale "$grid" 1 -q --download "$work/harbour.png")
echo "upscale:  $up -> $work/harbour.png"
# The mask takes the image's size; white is what gets redrawn. Look at the preview first.
$cli mask --image "$work/harbour.png" --ellipse 0.55 0.55 0.95 0.95 --relative \
    -o "$work/boat-mask.png" --preview "$work/boat-preview.png"
boat=$($cli inpaint --parent "$up" --mask "$work/boat-mask.png" --prompt "a red sailboat" \
    -q --download "$work/boat.png")
echo "inpaint:  $boat -> $work/boat.png"
