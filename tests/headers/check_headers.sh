#!/usr/bin/env bash
# The headers ctest: every public header compiles on its own, twice in a row
# (include guard), as strict C11 and as strict C++ (C++11 and C++17), so each
# is self-contained, needs no GNU extension and works from C++. Then, from
# C++, every symbol of abi/eddy.symbols is referenced through <eddy.h> and
# must come out unmangled (declared, and inside extern "C").
#
#   check_headers.sh SRC_DIR BIN_DIR CC [CXX]
#
# Headers: SRC_DIR/include/eddy.h, SRC_DIR/include/eddy/*.h and the generated
# BIN_DIR/include/eddy/*.h, found when the test runs. Without CXX (or when it
# does not run) the C++ checks are skipped with a note. NM (environment)
# defaults to nm.
set -euo pipefail
if [ $# -lt 3 ]; then
    sed -n '2,13s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi
src=$1 bin=$2 cc=$3 cxx=${4:-}
nm=${NM:-nm}
[ -n "$nm" ] || nm=nm
export LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

incs=(-I "$src/include" -I "$bin/include")
# <curl/curl.h> (eddy/http.h) may live outside the default path
extra=$(pkg-config --cflags libcurl 2>/dev/null || true)
c_flags=(-std=c11 -Wall -Wextra -pedantic -Werror -Wstrict-prototypes -fsyntax-only)
cxx_flags=(-Wall -Wextra -pedantic -Werror -fsyntax-only)

if [ -n "$cxx" ] && ! echo 'int main() { return 0; }' | "$cxx" -x c++ -fsyntax-only - 2>/dev/null; then
    echo "headers: note: C++ compiler '$cxx' does not work; C++ checks skipped"
    cxx=""
elif [ -z "$cxx" ]; then
    echo "headers: note: no C++ compiler; C++ checks skipped"
fi

headers=()
for h in "$src/include/eddy.h" "$src/include"/eddy/*.h "$bin/include"/eddy/*.h; do
    [ -f "$h" ] && headers+=("$h")
done
if [ ${#headers[@]} -lt 2 ]; then
    echo "headers: found no public headers under $src/include and $bin/include" >&2
    exit 1
fi

fail=0
checked=0
compile() { # label, driver, flags... (reads the translation unit from $tmp/tu)
    local label=$1; shift
    if "$@" <"$tmp/tu" >"$tmp/out" 2>&1; then
        checked=$((checked + 1))
    else
        echo "FAIL  $label" >&2
        sed 's/^/      /' "$tmp/out" >&2
        fail=1
    fi
}

for h in "${headers[@]}"; do
    case $h in
        "$bin/include/"*) name=${h#"$bin/include/"} ;;
        *) name=${h#"$src/include/"} ;;
    esac
    printf '#include <%s>\n#include <%s>\n' "$name" "$name" >"$tmp/tu"
    compile "<$name> as C11" "$cc" -x c "${c_flags[@]}" "${incs[@]}" $extra -
    if [ -n "$cxx" ]; then
        for std in c++11 c++17; do
            compile "<$name> as ${std^^}" "$cxx" -x c++ -std=$std "${cxx_flags[@]}" "${incs[@]}" $extra -
        done
    fi
done

# extern "C": reference every export from C++ and look at the object's
# undefined symbols: a declaration outside extern "C" shows up mangled (_Z...)
# and a missing one does not compile.
symbols=$src/abi/eddy.symbols
if [ -n "$cxx" ] && [ -f "$symbols" ]; then
    sed -e 's/@.*//' -e '/^[[:space:]]*$/d' "$symbols" | sort -u >"$tmp/exports"
    {
        echo '#include <eddy.h>'
        echo 'template <class T> static void use(T *p) { static T *volatile sink; sink = p; (void)sink; }'
        echo 'void eddy_headers_check_use_all();'
        echo 'void eddy_headers_check_use_all() {'
        sed 's/.*/    use(\&&);/' "$tmp/exports"
        echo '}'
    } >"$tmp/use.cc"
    if "$cxx" -std=c++11 -Wall -Wextra -pedantic -Werror "${incs[@]}" $extra \
            -O0 -c "$tmp/use.cc" -o "$tmp/use.o" >"$tmp/out" 2>&1; then
        "$nm" -u "$tmp/use.o" | awk '{ print $NF }' | sort -u >"$tmp/undef"
        comm -23 "$tmp/exports" "$tmp/undef" >"$tmp/missing"
        if [ -s "$tmp/missing" ]; then
            echo "FAIL  extern \"C\": referenced from C++, these exports do not come out as C symbols:" >&2
            sed 's/^/      /' "$tmp/missing" >&2
            echo "      the C++ object references instead:" >&2
            grep '^_Z' "$tmp/undef" | sed 's/^/      /' >&2 || true
            fail=1
        else
            checked=$((checked + 1))
        fi
    else
        echo "FAIL  every export of abi/eddy.symbols, referenced from C++ through <eddy.h>" \
             "(each must be declared in a public header):" >&2
        sed 's/^/      /' "$tmp/out" >&2
        fail=1
    fi
fi

if [ $fail = 1 ]; then
    echo "headers: some public header is not self-contained strict C11/C++ (see FAIL above)" >&2
    exit 1
fi
echo "headers: ${#headers[@]} headers, $checked checks passed (C11${cxx:+, C++11, C++17, extern \"C\"})"
