#!/usr/bin/env bash
# Builds the fuzz targets and runs each for SECONDS (default 60), seeded from the bundled
# archive, digests, keys, detection pack and the alarm controls' filter patterns. Exits non-zero
# when a target finds a crash (its input is under fuzz/artifacts/TARGET/).
#
#   fuzz/run.sh [SECONDS]
#   fuzz/run.sh ci        # what .ci/run does: a fixed seed and a fixed number of runs per target
#                         # (about 30 s each here), so CI replays exactly what was run before
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). A debug build with no
# sanitizer: the library has no unsafe code, and a release build of DataFusion takes an hour here.
# Without debug info or incremental files: with them the build wrote 22 GB, and a panic's message
# names its file and line anyway.
set -euo pipefail
cd "$(dirname "$0")"
testdata=../testdata
declare -A budget
corpus=corpus
if [ "${1:-}" = ci ]; then
  # A corpus of the seeds alone (what a run adds to one changes the next run's inputs).
  corpus=ci-corpus
  rm -rf "$corpus"
  budget=([decode]=4000 [digest]=200000 [object_key]=500000 [filter_pattern]=200000 [sigma_rule]=25000)
  for target in "${!budget[@]}"; do budget[$target]="-seed=1 -runs=${budget[$target]}"; done
else
  for target in decode digest object_key filter_pattern sigma_rule; do
    budget[$target]="-max_total_time=${1:-60}"
  done
fi
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_INCREMENTAL=0

mkdir -p $corpus/decode $corpus/digest $corpus/object_key $corpus/filter_pattern $corpus/sigma_rule
n=0
while IFS= read -r -d '' file; do
  n=$((n + 1))
  [ "$n" -le 40 ] || break
  # Mode byte 1: the gzip reader gets the object's bytes; 0 and 2: the JSON reader gets them
  # inflated (2 adds the eventjson column).
  { printf '\001'; cat "$file"; } > "$corpus/decode/log-$n-gz"
  # (A damaged log file seeds its readable part.)
  { printf '\000'; gzip -dc "$file" || true; } > "$corpus/decode/log-$n-json"
  { printf '\002'; gzip -dc "$file" || true; } > "$corpus/decode/log-$n-eventjson"
  printf '%s' "${file#*/AWSLogs/}" | sed 's|^|AWSLogs/|' > "$corpus/object_key/log-$n"
done < <(find "$testdata/archive" -path '*/CloudTrail/*' -name '*.json.gz' -size -64k -print0 | sort -z)
n=0
while IFS= read -r -d '' file; do
  n=$((n + 1))
  [ "$n" -le 20 ] || break
  gzip -dc "$file" > "$corpus/digest/digest-$n" || true
  printf '%s' "${file#*/AWSLogs/}" | sed 's|^|AWSLogs/|' > "$corpus/object_key/digest-$n"
done < <(find "$testdata/archive" -path '*/CloudTrail-Digest/*' -name '*.json.gz' -print0 | sort -z)
for rule in ../queries/detections/*/*.yml; do
  cp "$rule" "$corpus/sigma_rule/$(basename "$rule")"
done
# The alarm controls' metric filter patterns, each over an event it is tried on.
{ grep -rhoE '\{ *\(?\$\.[^}]*\}' ../queries/controls || true; } | sort -u | while IFS= read -r pattern; do
  printf '%s\n{"eventName":"ConsoleLogin","errorCode":"AccessDenied","userIdentity":{"type":"Root"}}' \
    "$pattern" > "$corpus/filter_pattern/$(printf '%s' "$pattern" | cksum | cut -d' ' -f1)"
done

cargo +nightly fuzz build --dev -s none
bin=target/x86_64-unknown-linux-gnu/debug
status=0
for target in decode digest object_key filter_pattern sigma_rule; do
  mkdir -p "artifacts/$target"
  echo "fuzz: $target (${budget[$target]})"
  # shellcheck disable=SC2086 # the budget is two options or one
  if ! "$bin/$target" "$corpus/$target" ${budget[$target]} -rss_limit_mb=1024 \
    -timeout=20 -artifact_prefix="artifacts/$target/" -print_final_stats=1 2> "artifacts/$target.log"; then
    echo "fuzz: $target found a crash:" >&2
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "artifacts/$target.log" >&2 || tail -20 "artifacts/$target.log" >&2
    status=1
  fi
  grep -E '^stat::number_of_executed_units' "artifacts/$target.log" || true
done
exit "$status"
