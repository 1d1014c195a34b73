#!/usr/bin/env bash
# `meson install` puts the shim where the installed `vdsotrace` finds it: install into a
# temporary DESTDIR, run the installed vdsotrace (no --shim, no VDSOTRACE_SHIM) on the installed
# demo, and check the exact call count of the demo's report.
#   check_install.sh BUILD_DIR
set -euo pipefail
build=$1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >/dev/null
vdsotrace=$(find "$dest" -type f -name vdsotrace -perm -u+x | head -n 1)
demo=$(find "$dest" -type f -name vdsotrace-demo -perm -u+x | head -n 1)
shim=$(find "$dest" -type f -name libvdsotrace.so | head -n 1)
[ -n "$vdsotrace" ] && [ -n "$demo" ] && [ -n "$shim" ] || { echo "install is missing files:"; find "$dest"; exit 1; }
unset VDSOTRACE_SHIM LD_PRELOAD
json="$dest/report.json"
"$vdsotrace" run --json "$json" -o "$dest/demo.vdsotrace" -- "$demo" >/dev/null 2>"$dest/stderr" || { cat "$dest/stderr"; exit 1; }
# The recording file alone (run removed the segments from /dev/shm) gives the same count.
total=$("$vdsotrace" report --json "$dest/demo.vdsotrace" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_calls"])')
if [ "$total" != 62200 ]; then
  echo "installed vdsotrace counted $total calls of the demo, expected 62200"; cat "$dest/stderr"; exit 1
fi
echo "installed vdsotrace found $shim and counted 62200 calls"
