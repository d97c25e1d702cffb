#!/usr/bin/env bash
# Installs the Debian parts BitScrape's tests need. Idempotent: when everything is present it
# returns in well under a second without touching apt. When a part cannot be installed it says
# so and carries on; the tests that need that part then fail naming it (test/support/parts.ts).
#
#   part                     used by                                   checked by
#   python3-libtorrent       DHT / metadata interop tests             /usr/bin/python3 -c 'import libtorrent'
#   postgresql-15            PostgreSQL repository tests              /usr/lib/postgresql/15/bin/initdb
#   chromium                 browser (UI) tests                       /usr/bin/chromium
#   util-linux, iproute2     private network namespaces for interop   unshare, ip
#   iptables                 realistic model: stale peers time out    iptables
#   prometheus               promtool check metrics on /metrics       promtool
set -u
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "provision: $*"; }

have_libtorrent() { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import libtorrent' >/dev/null 2>&1; }
have_postgres() { [ -x /usr/lib/postgresql/15/bin/initdb ] && [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; }
have_chromium() { [ -x /usr/bin/chromium ]; }
have_netns() { command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1; }
have_iptables() { command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ]; }
have_promtool() { [ -x /usr/bin/promtool ]; }

missing=()
have_libtorrent || missing+=(python3-libtorrent)
have_postgres || missing+=(postgresql-15)
have_chromium || missing+=(chromium)
have_netns || missing+=(util-linux iproute2)
have_iptables || missing+=(iptables)
have_promtool || missing+=(prometheus)

if [ ${#missing[@]} -eq 0 ]; then
  say "all system parts present"
  exit 0
fi

echo "provision: installing missing system parts: ${missing[*]} (first run only)"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "provision: cannot install (need root and apt-get). Install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# The server package must not start a cluster of its own: tests run their own on loopback.
mkdir -p /etc/postgresql-common
[ -f /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
if ! apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/bitscrape-provision.log 2>&1; then
  apt-get update >>/tmp/bitscrape-provision.log 2>&1
  apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/bitscrape-provision.log 2>&1 ||
    echo "provision: apt-get failed (see /tmp/bitscrape-provision.log); tests needing ${missing[*]} will fail" >&2
fi
# Debian's postgresql package may start a service; tests use their own server, so stop any.
command -v pg_ctlcluster >/dev/null 2>&1 && service postgresql stop >/dev/null 2>&1
# Debian's prometheus package may start a Prometheus server; the tests need only its promtool.
[ -x /usr/bin/prometheus ] && service prometheus stop >/dev/null 2>&1
still=()
have_libtorrent || still+=(python3-libtorrent)
have_postgres || still+=(postgresql-15)
have_chromium || still+=(chromium)
have_netns || still+=(util-linux iproute2)
have_iptables || still+=(iptables)
have_promtool || still+=(prometheus)
if [ ${#still[@]} -eq 0 ]; then say "installed ${missing[*]}"; else echo "provision: still missing: ${still[*]}" >&2; fi
exit 0
