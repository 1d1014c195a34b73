#!/usr/bin/env bash
# What the preloaded library brings into every traced program: it must need nothing but libc
# (no libstdc++, no libunwind whose _Unwind_* would take over C++ exceptions, no spdlog) and
# export exactly the interposed functions (and vdsotrace_attach, a name no program uses, for
# `vdsotrace attach`), nothing else that could take over a program's symbol. clone, dlclose, prctl
# and pthread_setname_np pass through to libc's, vfork does what libc's does (issue 12:
# shim/clone_hook.cpp, dlclose_hook.cpp, thread_names.cpp, vfork_hook.cpp; vfork on x86_64 only), as do the wait
# functions (issue 14: shim/wait_hooks.cpp).
#   check_shim_surface.sh LIBVDSOTRACE
set -euo pipefail
export LC_ALL=C  # one sort order for the names below
lib=$1
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
if [ "$needed" != "libc.so.6 " ]; then
  echo "libvdsotrace.so needs: $needed(expected only libc.so.6)"; exit 1
fi
# Every symbol it needs is libc's (versioned): one of its own left undefined (a source missing from
# a build's list, as .ci/sanitize's shim once was) would make every traced program fail to start
# with "symbol lookup error", since the shim binds at load (-z now).
unresolved=$(nm -D --undefined-only "$lib" | awk '$1 == "U" && $2 !~ /@GLIBC_/ {print $2}' | tr '\n' ' ')
if [ -n "$unresolved" ]; then
  echo "libvdsotrace.so leaves undefined: $unresolved(expected only libc's versioned symbols)"; exit 1
fi
# Its tables are zeros until used (.bss, pages the kernel hands out on first touch): an initialiser
# that is not zero moves a whole table into .data, file bytes the loader maps into every traced
# program (a `-1` in the module entries' struct once made it 380 KiB, issue 14). Under 4 KiB.
data_hex=$(readelf -SW "$lib" | awk '$2 == ".data" {print $6}')
data=$((16#${data_hex:-0}))
# (A coverage build's counters' descriptions are initialised data: not checked there.)
if [ "$data" -ge 4096 ] && ! nm "$lib" 2>/dev/null | grep -q __gcov_; then
  echo "libvdsotrace.so has $data bytes of initialised data (.data; expected under 4096: zero-initialised tables belong in .bss)"
  nm -S --size-sort -C "$lib" | awk '$3 == "d" || $3 == "D"' | tail -3
  exit 1
fi
exported=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort | tr '\n' ' ')
expected="_Exit _exit clock_getres clock_gettime clone dlclose getcpu gettimeofday prctl pthread_setname_np time vdsotrace_attach "
if [ "$(uname -m)" = x86_64 ]; then expected="${expected}vfork "; fi
expected="${expected}wait wait3 wait4 waitid waitpid "
if [ "$exported" != "$expected" ]; then
  echo "libvdsotrace.so exports: $exported(expected: $expected)"; exit 1
fi
echo "needs only libc.so.6 and leaves nothing of its own undefined; exports exactly $expected"
