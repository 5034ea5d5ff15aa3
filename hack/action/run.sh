#!/usr/bin/env bash
# Runs scenarios for the GitHub Action (action.yml) with the rwxchaos on
# PATH, several in one `rwxchaos run` (one shared kind cluster), which keeps
# going after a failure, so every report is written.
#   SCENARIOS   names from the library, scenario files, or selections of
#               library scenarios (`rwxchaos list --select`: provider=kind,
#               set=nightly, backend=nfs, joined by commas); space or newline
#               separated
#   REPORT_DIR  base directory for reports (default reports)
#   ARGS        extra arguments for every `rwxchaos run` (e.g. --seed 7)
#   SUDO        true: run scenarios as root (sudo), as the lab's NFS ones need
# Appends every summary.md to $GITHUB_STEP_SUMMARY and writes exit-code,
# passed, failed and unjudged to $GITHUB_OUTPUT. Exit code: 1 if any
# scenario failed, else 3 if any could not be judged (void, error) or was
# invalid, else 0.
set -uo pipefail
: "${SCENARIOS:?SCENARIOS is required: library names, files, or selections such as provider=kind,set=nightly}"
REPORT_DIR=${REPORT_DIR:-reports}
GITHUB_OUTPUT=${GITHUB_OUTPUT:-/dev/null}
GITHUB_STEP_SUMMARY=${GITHUB_STEP_SUMMARY:-/dev/null}
read -r -a extra <<<"${ARGS:-}"
run=(rwxchaos)
case "${SUDO:-false}" in
  true) run=(sudo -E env "PATH=$PATH" rwxchaos) ;;
  false | "") ;;
  *) echo "run: SUDO=$SUDO: want true or false" >&2; echo "exit-code=2" >>"$GITHUB_OUTPUT"; exit 2 ;;
esac

list=()
for s in $SCENARIOS; do
  case "$s" in
    *=*)
      # A selection (provider=kind, set=nightly, backend=nfs, joined by
      # commas): the library scenarios `rwxchaos list --select` matches.
      if ! names=$(rwxchaos list --select "$s" --names); then
        echo "run: $s selects nothing to run (see above)" >&2
        echo "exit-code=2" >>"$GITHUB_OUTPUT"
        exit 2
      fi
      mapfile -t sel <<<"$names"
      list+=("${sel[@]}")
      ;;
    *) list+=("$s") ;;
  esac
done

passed=0 failed=0 unjudged=0
if [ ${#list[@]} -eq 1 ]; then
  s=${list[0]}
  "${run[@]}" run "$s" --report-dir "$REPORT_DIR" "${extra[@]}"
  code=$?
  case $code in
    0) passed=1 ;;
    1) failed=1; echo "::error title=rwxchaos $s::an expectation failed (exit 1): see its report" ;;
    *) unjudged=1; echo "::error title=rwxchaos $s::could not be judged (exit $code): see the log above" ;;
  esac
  for f in "$REPORT_DIR"/*/*/summary.md; do
    [ -f "$f" ] && { cat "$f"; echo; } >>"$GITHUB_STEP_SUMMARY"
  done
else
  # One `rwxchaos run` for all of them, as the nightly suites run them: the
  # kind ones on one shared cluster (reset between scenarios), and the
  # index of their reports appended to $GITHUB_STEP_SUMMARY by rwxchaos.
  out=$(mktemp)
  "${run[@]}" run "${list[@]}" --report-dir "$REPORT_DIR" "${extra[@]}" | tee "$out"
  code=${PIPESTATUS[0]}
  # A line per scenario ("pass|FAIL|unjudged NAME: why") and, last,
  # "N scenarios: P passed, F failed, U not judged" (cmd/rwxchaos's
  # TestRunSeveral holds the CLI to this form).
  counts=$(sed -nE 's/^[0-9]+ scenarios: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) not judged$/\1 \2 \3/p' "$out" | tail -1)
  if [ -n "$counts" ]; then
    read -r passed failed unjudged <<<"$counts"
    while read -r label rest; do
      case "$label" in
        FAIL) echo "::error title=rwxchaos ${rest%%:*}::an expectation failed: ${rest#*: }" ;;
        unjudged) echo "::error title=rwxchaos ${rest%%:*}::could not be judged: ${rest#*: }" ;;
      esac
    done < <(grep -E '^(FAIL|unjudged) ' "$out")
  elif [ "$code" = 2 ]; then
    echo "run: rwxchaos refused the scenarios (exit 2, above); nothing ran" >&2
    echo "exit-code=2" >>"$GITHUB_OUTPUT"
    rm -f "$out"
    exit 2
  else
    unjudged=${#list[@]}
    echo "::error title=rwxchaos::rwxchaos run ended (exit $code) without its results: see the log above"
  fi
  rm -f "$out"
fi
code=0
if [ $failed -gt 0 ]; then code=1; elif [ $unjudged -gt 0 ]; then code=3; fi
{
  echo "exit-code=$code"
  echo "passed=$passed"
  echo "failed=$failed"
  echo "unjudged=$unjudged"
} >>"$GITHUB_OUTPUT"
echo "rwxchaos: ${#list[@]} scenarios: $passed passed, $failed failed, $unjudged not judged"
exit $code
