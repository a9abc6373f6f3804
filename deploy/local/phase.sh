#!/usr/bin/env bash
# Times the phases of `make test`, so its budget (under 40 minutes from a fresh clone on
# a 2-core machine) can be watched:
#   deploy/local/phase.sh NAME COMMAND...   runs COMMAND as the phase NAME and records
#                                           how long it took; a failing phase prints the
#                                           table so far and fails with its status
#   deploy/local/phase.sh --start           forgets the phases of an earlier run
#   deploy/local/phase.sh --report          prints every phase and the total
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TABLE="$ROOT/.sportello/test-phases.tsv"

report() {
  [ -f "$TABLE" ] || return 0
  awk -F'\t' '
    BEGIN { printf "\n\033[1m%-16s %9s  %s\033[0m\n", "make test phase", "time", "" }
    { total += $2; printf "%-16s %6d:%02d  %s\n", $1, $2 / 60, $2 % 60, $3 }
    END { printf "\033[1m%-16s %6d:%02d\033[0m\n", "total", total / 60, total % 60 }
  ' "$TABLE" >&2
}

case "${1:-}" in
  --start) mkdir -p "$(dirname "$TABLE")"; : >"$TABLE"; exit 0 ;;
  --report) report; exit 0 ;;
  ""|-*) echo "usage: $0 --start | --report | NAME COMMAND..." >&2; exit 2 ;;
esac

name=$1; shift
start=$(date +%s)
"$@"
status=$?
elapsed=$(( $(date +%s) - start ))
mkdir -p "$(dirname "$TABLE")"
if [ "$status" = 0 ]; then
  printf '%s\t%d\t\n' "$name" "$elapsed" >>"$TABLE"
else
  printf '%s\t%d\tFAILED (exit %d)\n' "$name" "$elapsed" "$status" >>"$TABLE"
  report
fi
exit "$status"
