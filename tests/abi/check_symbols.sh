#!/usr/bin/env bash
# The abi_symbols ctest: what libeddy.so exports must be exactly abi/eddy.symbols,
# and abi/eddy.symbols must be exactly the global list of abi/eddy.map.
#
#   check_symbols.sh LIB [SYMBOLS [MAP]]           check (the ctest)
#   check_symbols.sh --update LIB [SYMBOLS [MAP]]  rewrite SYMBOLS from LIB
#
# LIB is a built libeddy.so; SYMBOLS and MAP default to abi/eddy.symbols and
# abi/eddy.map of this checkout; NM (environment) defaults to nm. A symbol is
# written as nm -D --defined-only prints it, with its version node:
# eddy_rt_new@@EDDY_0.1. The version-node entries themselves (type A) are left
# out. See abi/README.md for when and how to update the list.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export LC_ALL=C

update=0
if [ "${1:-}" = --update ]; then update=1; shift; fi
if [ $# -lt 1 ] || [ $# -gt 3 ]; then
    sed -n '2,12s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi
lib=$1
symbols=${2:-$root/abi/eddy.symbols}
map=${3:-$root/abi/eddy.map}
nm=${NM:-nm}
[ -n "$nm" ] || nm=nm

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- what the library exports
"$nm" -D --defined-only "$lib" >"$tmp/nm.out"
awk 'NF >= 3 && $2 != "A" { print $3 }' "$tmp/nm.out" | sort -u >"$tmp/actual"
if [ ! -s "$tmp/actual" ]; then
    echo "abi_symbols: $nm -D --defined-only $lib shows no exported symbol" >&2
    exit 1
fi

if [ $update = 1 ]; then
    cp "$tmp/actual" "$symbols"
    echo "abi_symbols: wrote $(wc -l <"$symbols") symbols from $lib to $symbols"
    echo "abi_symbols: now make abi/eddy.map name the same symbols, and review 'git diff abi/'"
    exit 0
fi

how_to_update="If the change is intended (a new or removed public function; removing one
breaks the ABI: see abi/README.md), update the list from a fresh build and
review the diff:
    tests/abi/check_symbols.sh --update $lib
    git diff abi/eddy.symbols
and keep abi/eddy.map's global list in step with it. If not, the symbol lost
or gained EDDY_API, or the version script changed by mistake."

fail=0
# ---- the committed list: one symbol a line, sorted, no duplicates
grep -v '^[[:space:]]*$' "$symbols" >"$tmp/expected" || true
if ! sort -c -u "$tmp/expected" 2>/dev/null; then
    echo "abi_symbols: $symbols is not sorted and unique (LC_ALL=C sort -u)." >&2
    echo "$how_to_update" >&2
    exit 1
fi

# ---- 1. library against abi/eddy.symbols
comm -13 "$tmp/expected" "$tmp/actual" >"$tmp/added"
comm -23 "$tmp/expected" "$tmp/actual" >"$tmp/removed"
if [ -s "$tmp/added" ]; then
    echo "abi_symbols: $(basename "$lib") exports symbols that abi/eddy.symbols does not list (ADDED):" >&2
    sed 's/^/    + /' "$tmp/added" >&2
    fail=1
fi
if [ -s "$tmp/removed" ]; then
    echo "abi_symbols: abi/eddy.symbols lists symbols that $(basename "$lib") no longer exports (REMOVED):" >&2
    sed 's/^/    - /' "$tmp/removed" >&2
    fail=1
fi
if [ $fail = 1 ]; then
    echo >&2
    echo "$how_to_update" >&2
fi

# ---- 2. abi/eddy.map against abi/eddy.symbols
# Prints name@@NODE for each name in a node's global list; a wildcard or an
# extern "C++" block is reported as WILDCARD/UNSUPPORTED (names must be explicit).
awk '
    { sub(/#.*/, ""); text = text " " $0 }
    END {
        while (match(text, /\/\*/)) {          # strip /* comments */
            rest = substr(text, RSTART + 2)
            end = index(rest, "*/")
            text = substr(text, 1, RSTART - 1) " " (end ? substr(rest, end + 2) : "")
        }
        gsub(/[{};:]/, " & ", text)
        n = split(text, tok, /[ \t\r\n]+/)
        depth = 0; node = ""; pending = ""; section = "global"
        for (i = 1; i <= n; i++) {
            t = tok[i]
            if (t == "") continue
            if (depth == 0) {
                if (t == "{") { depth = 1; node = pending; section = "global" }
                else if (t != ";") pending = t
                continue
            }
            if (t == "{") { print "UNSUPPORTED nested block in node " node; depth++; continue }
            if (t == "}") { depth--; pending = ""; continue }
            if (depth > 1 || t == ";" || t == ":") continue
            if ((t == "global" || t == "local") && tok[i + 1] == ":") { section = t; continue }
            if (section != "global") continue
            if (t ~ /[*?\[]/) print "WILDCARD " t " in node " node
            else print t "@@" node
        }
    }' "$map" | sort -u >"$tmp/map.syms"
if grep -q -E '^(WILDCARD|UNSUPPORTED) ' "$tmp/map.syms"; then
    echo "abi_symbols: abi/eddy.map must name every export explicitly (see docs/design.md, "Public API rules"):" >&2
    grep -E '^(WILDCARD|UNSUPPORTED) ' "$tmp/map.syms" | sed 's/^/    /' >&2
    fail=1
fi
grep -v -E '^(WILDCARD|UNSUPPORTED) ' "$tmp/map.syms" >"$tmp/map.names" || true
# a symbol the library exports as a non-default version (name@NODE) counts as name@@NODE
sed 's/@\{1,2\}/@@/' "$tmp/expected" | sort -u >"$tmp/expected.norm"
comm -13 "$tmp/expected.norm" "$tmp/map.names" >"$tmp/map-only"
comm -23 "$tmp/expected.norm" "$tmp/map.names" >"$tmp/list-only"
if [ -s "$tmp/map-only" ] || [ -s "$tmp/list-only" ]; then
    echo "abi_symbols: abi/eddy.map and abi/eddy.symbols disagree (compared as name@@VERSION_NODE):" >&2
    [ -s "$tmp/map-only" ] && sed 's/^/    in eddy.map only:     /' "$tmp/map-only" >&2
    [ -s "$tmp/list-only" ] && sed 's/^/    in eddy.symbols only: /' "$tmp/list-only" >&2
    echo "  A name in the map that the library does not define is silently ignored by the" >&2
    echo "  linker: add the definition (with EDDY_API) or drop the name; a new export" >&2
    echo "  goes into the current release's node of the map and into eddy.symbols." >&2
    fail=1
fi

if [ $fail = 1 ]; then exit 1; fi
echo "abi_symbols: $(wc -l <"$tmp/actual") exports of $(basename "$lib") match abi/eddy.symbols and abi/eddy.map"
