#!/usr/bin/env bash
# Run every fuzz target of the module (func FuzzX(f *testing.F) in a _test.go
# file), one after another, each for FUZZTIME. Go fuzzes one target per
# invocation. Minimization is bounded by FUZZMINIMIZETIME: unbounded, it
# stalls for many seconds at a time on a loaded 2-core machine.
#
# A failing target fails the run after the others have run, and its failing
# input stays under <package>/testdata/fuzz/<target>/; once the bug is fixed,
# commit that file as a regression seed.
#
#   FUZZTIME=30s FUZZ='ParseDSN|Lease' test/fuzz.sh
set -euo pipefail

cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-12s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-2000x}
FUZZ=${FUZZ:-.}  # an extended regexp that selects targets by name
GO=${GO:-go}

mapfile -t targets < <(
	grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
		sed -E 's|^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*).*|\1 \2|' |
		grep -E " .*(${FUZZ})" | sort -u
)
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no target matches ${FUZZ}" >&2
	exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${FUZZTIME} each"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
start=$SECONDS
for t in "${targets[@]}"; do
	dir=${t% *} name=${t#* }
	began=$SECONDS
	if "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" \
		-fuzzminimizetime "$FUZZMINIMIZETIME" -timeout 10m "./$dir" >"$log" 2>&1; then
		execs=$(grep -Eo 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
		echo "fuzz: ok   ./$dir $name (${execs:-?} execs, $((SECONDS - began))s)"
		continue
	fi
	failed+=("./$dir $name")
	echo "fuzz: FAIL ./$dir $name ($((SECONDS - began))s)"
	grep -vE '^fuzz: elapsed' "$log" | tail -40 | sed 's/^/    /'
	grep -Eo 'testdata/fuzz/[^ ]+' "$log" | sort -u | while read -r input; do
		echo "    failing input: $dir/$input"
		echo "    rerun: go test -run '^${name}/${input##*/}\$' ./$dir"
	done
done
echo "fuzz: ${#targets[@]} targets in $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: FAIL %s\n' "${failed[@]}"
	exit 1
fi
