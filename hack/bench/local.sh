#!/usr/bin/env bash
# Pipeline throughput through real local processes vs the filesystem's
# fsync rate, measured in the same run (framework/proc).
#   hack/bench/local.sh            # one 2000-upload run
#   RUNS=3 hack/bench/local.sh     # three runs, averaged
#   TMPDIR=/mnt/x hack/bench/local.sh   # measure another filesystem
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go test -run '^$' -bench PipelineThroughput -benchtime "${RUNS:-1}x" ./framework/proc "$@"
