#!/usr/bin/env bash
# Runs a command inside a private network namespace where only loopback exists, so a wrong default in a
# third-party client (a public bootstrap router, a tracker, multicast discovery) fails instead of leaking.
# Needs root and unshare(1); elsewhere it says so and runs the command as it is (the in-process loopback
# guard still refuses non-loopback traffic from our own and the npm clients' sockets).
set -u
if [ "${BITSCRAPE_IN_NETNS:-}" = 1 ]; then exec "$@"; fi
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 &&
  unshare -n true 2>/dev/null; then
  export BITSCRAPE_IN_NETNS=1
  exec unshare -n -- bash -c 'ip link set lo up && exec "$@"' bash "$@"
fi
echo "netns: cannot create a private network namespace (needs root, util-linux unshare and iproute2);" \
  "running without it" >&2
exec "$@"
