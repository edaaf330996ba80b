#!/bin/bash
# Run test binaries one by one, print each one's output and verdict, then a
# summary. Exit 1 if any failed, crashed, timed out, or if none were given
# (an empty list means the build found no tests, which is not a pass).
#   run-unit-tests.sh [--label NAME] BINARY...
set -uo pipefail

label=unit
if [ "${1:-}" == "--label" ]; then label=$2; shift 2; fi
TEST_TIMEOUT=${TEST_TIMEOUT:-300}

if [ $# -eq 0 ]; then
	echo "$label tests: no test binaries given" >&2
	exit 1
fi

passed=0 failed=()
for t in "$@"; do
	name=$(basename "$t")
	echo "RUN  $name"
	start=$SECONDS
	rc=0
	if [ ! -x "$t" ]; then
		echo "  $t: not an executable"; rc=127
	else
		timeout "$TEST_TIMEOUT" "$t" 2>&1 | sed 's/^/  /'
		rc=${PIPESTATUS[0]}
	fi
	if [ "$rc" -eq 0 ]; then
		echo "PASS $name ($((SECONDS - start))s)"; passed=$((passed + 1))
	else
		[ "$rc" -eq 124 ] && why="timeout after ${TEST_TIMEOUT}s" || why="exit $rc"
		echo "FAIL $name ($why)"; failed+=("$name")
	fi
done

echo "$label tests: $passed passed, ${#failed[@]} failed of $#"
[ ${#failed[@]} -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
