#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 20s),
# all of them even when one fails, and ends with the list of failures.
# The targets are found in the sources, so a new one is never left out.
set -u
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
failed=()
total=0
while IFS=: read -r file name; do
	pkg=./$(dirname "$file")
	total=$((total + 1))
	echo "== $pkg $name ($FUZZTIME)"
	if ! "$GO" test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME"; then
		failed+=("$pkg $name")
	fi
done < <(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' internal cmd | sed 's/:func /:/' | sort)
echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "${#failed[@]} of $total fuzz targets failed:"
	printf '  %s\n' "${failed[@]}"
	echo "Their failing inputs are in the packages' testdata/fuzz/: fix, then commit them as seeds."
	exit 1
fi
echo "all $total fuzz targets passed ($FUZZTIME each)"
