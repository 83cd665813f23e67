#!/bin/sh
# Ablation of the distillation target at equal budget: the student regressing the 192 selected
# hidden neurons, all 256 hidden neurons, or the 128-d descriptor; 3 epochs each, one worker, same
# data, split, seed and schedule shape; then LFW View 2 with Joint Bayesian and cosine.
# Reports: reports/ablation/*.json. Usage: sh scripts/ablation.sh (from the repository root).
set -e
for t in selected hidden desc; do
  npx tsx scripts/distill.ts --out .cache/ablation/$t.mobileid --targets $t --k 192 --epochs 3 --workers 1 \
    --checkpoint-dir .cache/ablation/ckpt-$t
  for v in jb cosine; do
    npx mobileid eval-lfw --model .cache/ablation/$t.mobileid --verifier $v --report-dir reports/ablation
  done
done
