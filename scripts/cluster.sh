#!/usr/bin/env bash
# Starts one trailscope scheduler and N executors on this machine and keeps them running until
# Ctrl-C (or SIGTERM), or until one of them exits; then stops them all.
#
#   scripts/cluster.sh [-n EXECUTORS] [-p BASE_PORT] [-H HOST] [-l LOG_DIR] [-b TRAILSCOPE]
#
#   -n  executors to start (default 2)
#   -p  the scheduler's port; executor i (from 0) takes BASE+1+2i for results and shuffles and
#       BASE+2+2i for tasks (default 50050)
#   -H  the address everything binds to (default 127.0.0.1: Ballista does not authenticate, so
#       only bind beyond loopback on a trusted network)
#   -l  where each process logs (default ./cluster-logs): scheduler.log, executor-I.log
#   -b  the trailscope binary, built with the cluster feature (default: trailscope on PATH)
#
# The executors read the archive and the lake themselves: local ones at the same paths as the
# client's, or S3 with the standard AWS environment, which they inherit from this script
# (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, or a role; for an S3-compatible store
# also AWS_ENDPOINT_URL_S3). Once the scheduler and every executor listen, the script prints
# "ready: df://HOST:PORT", the URL to give `--cluster`.
set -euo pipefail

executors=2
base=50050
host=127.0.0.1
logs=cluster-logs
bin=trailscope
while getopts "n:p:H:l:b:" option; do
  case "$option" in
    n) executors="$OPTARG" ;;
    p) base="$OPTARG" ;;
    H) host="$OPTARG" ;;
    l) logs="$OPTARG" ;;
    b) bin="$OPTARG" ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
  esac
done
mkdir -p "$logs"

pids=()
stop() {
  trap - INT TERM EXIT
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Waits until HOST:PORT accepts connections (60 s at most).
listening() {
  for _ in $(seq 600); do
    if (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "cluster.sh: nothing listens on $host:$1 after 60 s; see $logs/" >&2
  return 1
}

"$bin" cluster scheduler --bind "$host:$base" > "$logs/scheduler.log" 2>&1 &
pids+=("$!")
listening "$base"
for ((i = 0; i < executors; i++)); do
  flight=$((base + 1 + 2 * i))
  tasks=$((base + 2 + 2 * i))
  "$bin" cluster executor --scheduler "$host:$base" --bind "$host:$flight" \
    --grpc-port "$tasks" > "$logs/executor-$i.log" 2>&1 &
  pids+=("$!")
done
for ((i = 0; i < executors; i++)); do
  listening $((base + 1 + 2 * i))
  listening $((base + 2 + 2 * i))
done
echo "ready: df://$host:$base (scheduler and $executors executors; logs in $logs/)"
# Stops everything as soon as any process exits.
wait -n "${pids[@]}"
echo "cluster.sh: a process exited; stopping the others (see $logs/)" >&2
