#!/bin/sh
# Ablation of the distillation target and loss at equal budget: every variant trains for the same
# epochs on the same prepared data, split, seed and schedule, then LFW View 2 with cosine (mirror
# averaged) and Joint Bayesian. Reports: reports/ablation/*.json; table:
# npx tsx scripts/lfw-table.ts reports/ablation.
#
#   selected     the paper's method: 192 teacher hidden neurons chosen by attributes (UTKFace keys
#                needed for the selection), per-neuron standardised, L2
#   hidden       all 256 hidden neurons, per-neuron standardised, L2
#   desc-neuron  the 128-d descriptor, per-neuron standardised, L2
#   desc-global  the descriptor, one global scale (the teacher's Euclidean metric), L2
#   desc-cosine  desc-global + 16 (1 - cos): the recipe of the shipped student
#   deep         desc-cosine on the deeper trunk (--arch deep, src/face/student-graph.ts)
#
# Usage: sh scripts/ablation.sh [epochs (default 3)] [prepared dirs (default utkface)] [variants]
set -e
epochs=${1:-3}
data=${2:-.cache/prepared/utkface}
variants=${3:-"selected hidden desc-neuron desc-global desc-cosine"}
for name in $variants; do
  case $name in
    selected) flags="--targets selected --k 192 --standardize neuron --cosine-weight 0" ;;
    hidden) flags="--targets hidden --standardize neuron --cosine-weight 0" ;;
    desc-neuron) flags="--targets desc --standardize neuron --cosine-weight 0" ;;
    desc-global) flags="--targets desc --standardize global --cosine-weight 0" ;;
    desc-cosine) flags="--targets desc --standardize global --cosine-weight 16" ;;
    deep) flags="--targets desc --standardize global --cosine-weight 16 --arch deep" ;;
    *) echo "ablation: unknown variant $name" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086
  npx tsx scripts/distill.ts --out .cache/ablation/$name.mobileid --data "$data" --epochs "$epochs" $flags \
    --checkpoint-dir .cache/ablation/ckpt-$name
  for v in cosine jb; do
    npx mobileid eval-lfw --model .cache/ablation/$name.mobileid --verifier $v --mirror --report-dir reports/ablation
  done
done
