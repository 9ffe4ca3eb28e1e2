#!/bin/bash
# test/check-layers.sh - lower layers never call upper ones (README,
# "Source layout"; the order is common/LAYERS). Fails naming each file
# that breaks it:
#
#   - every file of common/ belongs to exactly one module of LAYERS
#     (module X: X.c, X.h and X_int.h), and lies in the folder LAYERS
#     puts its layer in (common/FOLDER/);
#   - an `#include "X.h"` in common/*/*.c or *.h names a header of the same
#     layer as the file or of a lower one;
#   - a call: each object of the built library (common/*/*.o) refers only
#     to functions and data defined in modules of its layer or below (a
#     call up through agora.h, which every layer may include for its own
#     prototypes, shows here);
#   - the gateways (fused/, s3d/) include no header of common/ but
#     agora.h; metad/ only the ones README names.
#
# Run by make check (AGORA_SRCDIR, AGORA_BUILDDIR), or by hand from the
# source tree: bash test/check-layers.sh [builddir]. The call check is
# skipped, and says so, when no built objects are found.
set -u

src=${AGORA_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
build=${AGORA_BUILDDIR:-${1:-}}
layers=$src/common/LAYERS
bad=0

fail() {
	printf 'check-layers: %s\n' "$*" >&2
	bad=1
}

[ -r "$layers" ] || { echo "check-layers: no $layers" >&2; exit 99; }

declare -A layer_of  # module -> layer number (1 = bottom)
declare -A folder_of # module -> the folder of common/ it lives in
declare -A header_in # header name -> its folder, for the include check
declare -a names     # layer number -> its modules, for messages
n=0
folder=
while read -r line; do
	line=${line%%#*}
	[ -n "${line// /}" ] || continue
	if [[ $line == */ ]]; then
		folder=${line%/}
		continue
	fi
	[ -n "$folder" ] || fail "LAYERS: layer \"$line\" comes before any folder"
	n=$((n + 1))
	names[n]=$line
	for m in $line; do
		[ -z "${layer_of[$m]:-}" ] ||
			fail "LAYERS: module $m is in layers ${layer_of[$m]} and $n"
		layer_of[$m]=$n
		folder_of[$m]=$folder
	done
done <"$layers"

for f in "$src"/common/*/*.h; do
	h=${f##*/}
	[ -z "${header_in[$h]:-}" ] ||
		fail "common/: two headers named $h (${header_in[$h]}/, ${f%/*})"
	d=${f%/*}
	header_in[$h]=${d##*/}
done

# The module of a file name: X.c, X.h, X_int.h -> X.
module() {
	local b=${1##*/}
	b=${b%.[ch]}
	echo "${b%_int}"
}

# "3 (drive pool geometry)" for messages.
describe() {
	echo "$1 (${names[$1]})"
}

# ---- every file in one layer, every include downward ----
for f in "$src"/common/*.[ch]; do
	[ -e "$f" ] && fail "common/${f##*/}: a source outside the folders of common/LAYERS"
done
for f in "$src"/common/*/*.[ch]; do
	name=${f#"$src"/}
	m=$(module "$f")
	lf=${layer_of[$m]:-}
	if [ -z "$lf" ]; then
		fail "$name: module $m is in no layer of common/LAYERS"
		continue
	fi
	d=${f%/*}
	d=${d##*/}
	[ "$d" = "${folder_of[$m]}" ] ||
		fail "$name: module $m belongs in common/${folder_of[$m]}/ (LAYERS)"
	while read -r inc; do
		[ -n "${header_in[${inc##*/}]:-}" ] || continue # system or generated
		mi=$(module "$inc")
		li=${layer_of[$mi]:-}
		if [ -z "$li" ]; then
			fail "$name: #include \"$inc\": module $mi is in no layer"
		elif [ "$li" -gt "$lf" ]; then
			fail "$name: #include \"$inc\": $m is in layer" \
			     "$(describe "$lf"), $mi in the higher layer" \
			     "$(describe "$li")"
		fi
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done

# ---- calls, from the built objects ----
objs=()
[ -n "$build" ] && [ -d "$build/common" ] &&
	objs=("$build"/common/*/*.o)
if [ ${#objs[@]} -eq 0 ] || [ ! -e "${objs[0]}" ] ||
   ! command -v nm >/dev/null 2>&1; then
	echo "check-layers: no built objects (or no nm): calls not checked"
else
	declare -A def_of # symbol -> module that defines it
	for o in "${objs[@]}"; do
		m=$(module "${o%.o}.c")
		m=${m#libagora_a-}
		while read -r _ _ sym; do
			def_of[$sym]=$m
		done < <(nm --defined-only -g "$o")
	done
	for o in "${objs[@]}"; do
		m=$(module "${o%.o}.c")
		m=${m#libagora_a-}
		lf=${layer_of[$m]:-}
		if [ -z "$lf" ]; then
			# an object whose source is gone (a stale build) or new
			compgen -G "$src/common/*/$m.c" >/dev/null &&
				fail "common/$m.c: module $m is in no layer"
			continue
		fi
		while read -r _ sym; do
			d=${def_of[$sym]:-}
			[ -n "$d" ] && [ "$d" != "$m" ] || continue
			compgen -G "$src/common/*/$d.c" >/dev/null ||
				continue # stale object
			ld=${layer_of[$d]:-0}
			[ "$ld" -gt "$lf" ] &&
				fail "common/${folder_of[$m]}/$m.c uses $sym ($d.c): $m is in" \
				     "layer $(describe "$lf"), $d in the higher" \
				     "layer $(describe "$ld")"
		done < <(nm -u "$o")
	done
fi

# ---- the programs ----
# What metad/ may include besides agora.h: the headers the README's
# "Source layout" names in its sentence about metad/.
metad_ok=$(sed -n '/^The gateways include only/,/^$/p' "$src/README" |
	   grep -o '[a-z_]*\.h' | sort -u | tr '\n' ' ')
for f in "$src"/fused/*.[ch] "$src"/s3d/*.[ch] "$src"/metad/*.[ch]; do
	[ -e "$f" ] || continue
	dir=${f%/*}
	dir=${dir##*/}
	while read -r inc; do
		h=${inc##*/}
		[ -n "${header_in[$h]:-}" ] || continue # its own, or generated
		[ "$h" = agora.h ] && continue
		[ -e "$src/$dir/$h" ] && [ "$inc" = "$h" ] && continue
		if [ "$dir" = metad ] && [[ " $metad_ok " == *" $h "* ]]; then
			continue
		fi
		allowed=agora.h
		[ "$dir" = metad ] && allowed=$metad_ok
		fail "$dir/${f##*/}: #include \"$inc\": $dir/ includes" \
		     "only these of common/: ${allowed% }"
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done

if [ "$bad" -ne 0 ]; then
	echo "check-layers: FAILED (the order is common/LAYERS)" >&2
	exit 1
fi
echo "check-layers: $n layers, every include and call goes down or across"
