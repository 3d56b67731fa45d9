#!/bin/sh
# The house style, checked: C lines fit 80 columns (tabs of 8), no banned
# string functions, and clang-format agrees with every C file.
set -u
root=${1:-.}
cd "$root" || exit 1
status=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]')
[ -n "$files" ] || exit 77

wide=$(for f in $files; do
	expand -t 8 "$f" | awk -v f="$f" 'length > 80 { print f ":" NR ": " length " columns" }'
done)
if [ -n "$wide" ]; then
	echo "lines over 80 columns:"
	echo "$wide"
	status=1
fi

banned='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok)[[:space:]]*\('
hits=$(grep -nE "$banned" $files | grep -v 'lint: allow')
if [ -n "$hits" ]; then
	echo "banned functions (use snprintf, strbuf, strtok_r):"
	echo "$hits"
	status=1
fi

if command -v clang-format >/dev/null 2>&1; then
	for f in $files; do
		if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
			echo "$f: not clang-formatted (clang-format -i $f)"
			status=1
		fi
	done
fi
exit $status
