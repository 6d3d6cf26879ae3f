#!/usr/bin/env bash
# The api_docs ctest: runs Doxygen over the public headers with the build's
# docs/Doxyfile (output and warnings into a temporary directory, so it never
# races the `doc` target) and fails when
#   1. Doxygen warns that a public function, type, macro, enum or field is not
#      documented ("... is not documented"),
#   2. a public header has no file comment (/** @file ... */): Doxygen then
#      leaves out every function, macro and typedef of that header, and
#      cannot warn about them either,
#   3. an export of abi/eddy.symbols is not listed on a page of the
#      reference (declared in no documented public header).
# Other Doxygen warnings (bad markup, unresolved references) are printed, not fatal.
#
#   check_docs.sh DOXYGEN DOXYFILE SRC_DIR BIN_DIR
set -euo pipefail
if [ $# -ne 4 ]; then
    sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi
doxygen=$1 doxyfile=$2 src=$3 bin=$4
export LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

{
    cat "$doxyfile"
    echo "OUTPUT_DIRECTORY = $tmp/out"
    echo "WARN_LOGFILE     = $tmp/warnings.log"
    echo "QUIET            = YES"
    echo "GENERATE_HTML    = YES"
    echo "HTML_OUTPUT      = html"
    echo "GENERATE_XML     = YES"
    echo "XML_OUTPUT       = xml"
    echo "XML_PROGRAMLISTING = NO"
} >"$tmp/Doxyfile"
if ! (cd "$tmp" && "$doxygen" "$tmp/Doxyfile") >"$tmp/doxygen.out" 2>&1; then
    echo "api_docs: doxygen failed:" >&2
    cat "$tmp/doxygen.out" >&2
    exit 1
fi
touch "$tmp/warnings.log"
index=$tmp/out/xml/index.xml
if [ ! -f "$index" ]; then
    echo "api_docs: doxygen wrote no $index" >&2
    cat "$tmp/doxygen.out" >&2
    exit 1
fi
fail=0
strip() { sed -e "s|$bin/|<build>/|g" -e "s|$src/||g"; }

# ---- 1. undocumented public items
grep -E 'is not documented' "$tmp/warnings.log" | strip | sort -t: -k1,1 -k2,2n | uniq >"$tmp/undocumented" || true
if [ -s "$tmp/undocumented" ]; then
    echo "api_docs: $(wc -l <"$tmp/undocumented") public items have no doc comment (/** ... */ or /**< ... */):" >&2
    sed 's/^/    /' "$tmp/undocumented" >&2
    fail=1
fi

# ---- 2. headers without a file comment: the XML index lists every file,
# but only a documented one gets its own HTML page (<refid>.html)
html=$tmp/out/html
: >"$tmp/no-file-doc"
ndoc=0
for h in "$src/include/eddy.h" "$src/include"/eddy/*.h "$bin/include"/eddy/*.h; do
    [ -f "$h" ] || continue
    refid=$(grep -o "<compound refid=\"[^\"]*\" kind=\"file\"><name>$(basename "$h")</name>" "$index" |
            sed 's/<compound refid="\([^"]*\)".*/\1/' | head -1)
    if [ -n "$refid" ] && [ -f "$html/$refid.html" ]; then
        ndoc=$((ndoc + 1))
    else
        echo "$h" | strip >>"$tmp/no-file-doc"
    fi
done
if [ -s "$tmp/no-file-doc" ]; then
    echo "api_docs: public headers without a file comment; Doxygen documents none of their" >&2
    echo "functions, macros and types (and cannot warn about them) until the opening" >&2
    echo "comment is a /** @file ... */ block (version.h: in include/eddy/version.h.in):" >&2
    sed 's/^/    /' "$tmp/no-file-doc" >&2
    fail=1
fi

# ---- 3. every export is listed in the reference (the member summaries of
# the documented headers' pages)
symbols=$src/abi/eddy.symbols
if [ -f "$symbols" ]; then
    sed -n -E 's/.*class="memItemRight"[^>]*>(<a [^>]*>|<b>)([A-Za-z_][A-Za-z0-9_]*)(<\/a>|<\/b>).*/\2/p' "$html"/*.html |
        sort -u >"$tmp/doc-members"
    sed -e 's/@.*//' -e '/^[[:space:]]*$/d' "$symbols" | sort -u >"$tmp/exports"
    comm -23 "$tmp/exports" "$tmp/doc-members" >"$tmp/not-in-docs"
    if [ -s "$tmp/not-in-docs" ] && [ -s "$tmp/no-file-doc" ]; then
        echo "api_docs: $(wc -l <"$tmp/not-in-docs") of $(wc -l <"$tmp/exports") exports of abi/eddy.symbols are missing from the API reference" \
             "(list not shown: the headers above need their file comment first)" >&2
        fail=1
    elif [ -s "$tmp/not-in-docs" ]; then
        echo "api_docs: $(wc -l <"$tmp/not-in-docs") of $(wc -l <"$tmp/exports") exports of abi/eddy.symbols are missing from the API reference" >&2
        echo "(declared in no public header that has a /** @file */ comment):" >&2
        sed 's/^/    /' "$tmp/not-in-docs" >&2
        fail=1
    fi
fi

# ---- other warnings: shown, not fatal
grep -v -E 'is not documented' "$tmp/warnings.log" | strip | grep -v '^[[:space:]]*$' >"$tmp/other" || true
if [ -s "$tmp/other" ]; then
    echo "api_docs: other Doxygen warnings (not fatal):"
    sed 's/^/    /' "$tmp/other"
fi

if [ $fail = 1 ]; then
    echo "api_docs: FAILED (configuration: $doxyfile; build the HTML with 'cmake --build <build> --target doc')" >&2
    exit 1
fi
echo "api_docs: $ndoc headers documented, every export in the reference, no undocumented public item"
