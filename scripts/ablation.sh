#!/bin/sh
# Ablation of the distillation recipe at equal budget: every variant trains for the same epochs on
# the same prepared data, split, seed and schedule, then LFW View 2 with cosine, mirror averaged.
# Reports: reports/ablation/<name>.train.md, .train.json, .loss.png and <name>-cosine-mirror-*
# (LFW JSON + ROC), <name> being the variant's; table: npx tsx scripts/lfw-table.ts reports/ablation.
#
# The current recipe (the deep layout, the descriptor target with one global scale, L2 + cosine):
#   plain        without batch norm
#   bn           with batch norm: the shipped student's recipe, the baseline of the rows below
#   bn-prelu     bn with PReLU instead of ReLU
#   bn-l2        bn without the cosine term (L2 only)
#   bn-neuron    bn with per-neuron standardised targets (L2 + cosine)
# The earlier target ablation (the paper layout, L2 only; run on UTKFace, whose attribute labels
# `selected` needs for its neuron selection):
#   selected     the paper's method: 192 teacher hidden neurons chosen by attributes, per-neuron
#                standardised
#   hidden       all 256 hidden neurons, per-neuron standardised
#   desc-neuron  the 128-d descriptor, per-neuron standardised
#   desc-global  the descriptor, one global scale (the teacher's Euclidean metric)
#   desc-cosine  desc-global + 16 (1 - cos)
#
# A view bank (prepare-data --views K --mixup P) is measured by running the same variant on its
# caches under another name: VARIANTS may be <variant>@<name>, e.g. bn-prelu@bn-prelu-v8.
#
# Usage: sh scripts/ablation.sh [epochs (default 4)] [prepared dirs, comma-separated (default
#        .cache/prepared/fairface,.cache/prepared/celeba)] [variants (default "plain bn bn-prelu
#        bn-l2 bn-neuron")] [prepared LFW (default .cache/prepared/lfw; same window as the data)]
set -e
epochs=${1:-4}
data=${2:-.cache/prepared/fairface,.cache/prepared/celeba}
variants=${3:-"plain bn bn-prelu bn-l2 bn-neuron"}
lfw=${4:-.cache/prepared/lfw}
current="--arch deep --targets desc"
for entry in $variants; do
  variant=${entry%%@*}
  name=${entry#*@}
  case $variant in
    plain) flags="$current --standardize global --cosine-weight 16" ;;
    bn) flags="$current --batch-norm --standardize global --cosine-weight 16" ;;
    bn-prelu) flags="$current --batch-norm --activation prelu --standardize global --cosine-weight 16" ;;
    bn-l2) flags="$current --batch-norm --standardize global --cosine-weight 0" ;;
    bn-neuron) flags="$current --batch-norm --standardize neuron --cosine-weight 16" ;;
    selected) flags="--targets selected --k 192 --standardize neuron --cosine-weight 0" ;;
    hidden) flags="--targets hidden --standardize neuron --cosine-weight 0" ;;
    desc-neuron) flags="--targets desc --standardize neuron --cosine-weight 0" ;;
    desc-global) flags="--targets desc --standardize global --cosine-weight 0" ;;
    desc-cosine) flags="--targets desc --standardize global --cosine-weight 16" ;;
    *) echo "ablation: unknown variant $variant (see scripts/ablation.sh)" >&2; exit 2 ;;
  esac
  case $name in
    *[!A-Za-z0-9.-]*|'') echo "ablation: run name '$name' may only hold letters, digits, '.' and '-'" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086
  npx tsx scripts/distill.ts --out ".cache/ablation/$name.mobileid" --data "$data" --epochs "$epochs" $flags \
    --checkpoint-dir ".cache/ablation/ckpt-$name" --resume
  mkdir -p reports/ablation
  for part in train.md train.json loss.png; do cp ".cache/ablation/$name.$part" "reports/ablation/$name.$part"; done
  npx mobileid eval-lfw --model ".cache/ablation/$name.mobileid" --prepared "$lfw" --verifier cosine --mirror --report-dir reports/ablation
done
