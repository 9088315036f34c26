#!/usr/bin/env bash
# End-to-end demo of DCAL on the generated demo sets: make the data, train, evaluate the trained checkpoint, draw
# the rollout / GLCA selection of a few test images, print a summary.
# Usage: bash tools/run_demo.sh [fgvc|reid|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-all}
# tiny models on a CPU run faster on one thread per process (the data workers take the other cores)
python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' || export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

python tools/misc/make_demo_data.py --overwrite
SUMMARY=()
for TASK in fgvc reid; do
    if [ "$WHAT" != all ] && [ "$WHAT" != "$TASK" ]; then continue; fi
    CONFIG=configs/dcal/demo_${TASK}.py
    WORK_DIR=work_dirs/demo_${TASK}
    rm -rf "$WORK_DIR"
    START=$(date +%s)
    python tools/train.py "$CONFIG" --work-dir "$WORK_DIR"
    SECONDS_TRAINED=$(( $(date +%s) - START ))
    CKPT=$(cat "$WORK_DIR/last_checkpoint")
    python tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" 2>&1 | tee "$WORK_DIR/test.log"
    SUMMARY+=(--"$TASK" "$WORK_DIR/test.log" "$SECONDS_TRAINED")
    # four images (no pipes: with pipefail, `ls | head` can fail on SIGPIPE)
    if [ "$TASK" = fgvc ]; then
        IMAGES=(data/demo/CUB_200_2011/images/00[1357].*/*_0001.jpg)
    else
        IMAGES=(data/demo/Market-1501-v15.09.15/query/*.jpg)
    fi
    python tools/visualization/vis_rollout.py "$CONFIG" "$CKPT" "${IMAGES[@]:0:4}" --out-dir "$WORK_DIR/vis" --scale 4
    VIS+=("$WORK_DIR/vis")
done
python tools/misc/demo_summary.py "${SUMMARY[@]}"
echo "Rollout heat maps and GLCA-selected patches (PNG): ${VIS[*]}"
