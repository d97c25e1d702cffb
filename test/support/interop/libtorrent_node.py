#!/usr/bin/python3
"""M libtorrent sessions on loopback for BitScrape's interop tests, driven over JSON lines.

Run with Debian's /usr/bin/python3 (python3-libtorrent 2.0.8) by LibtorrentSwarm.ts:
    /usr/bin/python3 libtorrent_node.py '<config json>'
Config: {hosts: [str], port: int, bootstrap: [{host, port}], interconnect: int, settings: {name: value}}
Session i listens on hosts[i]:port (0 = ephemeral). `bootstrap` becomes dht_bootstrap_nodes (libtorrent treats those
as routers and never puts them in its routing table); `interconnect` = n makes each session add_dht_node its n
ring neighbours, which do enter the table. `settings` overrides the defaults in libtorrent_settings.py.
Besides announcing bare hashes, a session can seed real torrents with its DHT on (`seed`: BEP 9 metadata served to
anyone who connects, announced every dht_announce_interval), for swarms where crawlers must find and fetch them.

Protocol: stdout {"event":"ready","sessions":[...]} once; {"event":"fatal","reason","error"} before a deliberate
exit; {"id","result"} or {"id","error"} per request. stdin {"id","cmd","args"}; end of stdin means shutdown.
Requests run on a thread pool; one pump thread pops every session's alerts and hands them, converted to plain
data (an alert object dies at the next pop_alerts), to whichever request subscribed to them.
"""
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
from jsonlines import fatal, import_libtorrent, send, serve  # noqa: E402 - local modules

lt = import_libtorrent()

from libtorrent_settings import ip_filter, loopback, session_settings  # noqa: E402 - after the import check

warnings.simplefilter("ignore", DeprecationWarning)  # session.dht_state() is deprecated but is the only id source
CONFIG = json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}")
WORKDIR = tempfile.mkdtemp(prefix="bitscrape-lt-")
class Pump:
    """Pops alerts of every session and feeds them to subscribers as plain data."""

    def __init__(self, sessions):
        self.sessions = sessions
        self.subs = []
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self.run, daemon=True).start()

    def subscribe(self, index, convert):
        entry = (index, convert, queue.Queue())
        with self.lock:
            self.subs.append(entry)
        return entry

    def unsubscribe(self, entry):
        with self.lock:
            self.subs.remove(entry)

    def run(self):
        while not self.stopped:
            for index, ses in enumerate(self.sessions):
                alerts = ses.pop_alerts()
                with self.lock:
                    subs = [s for s in self.subs if s[0] == index]
                for alert in alerts:
                    for _, convert, q in subs:
                        try:
                            value = convert(alert)
                        except Exception as e:  # noqa: BLE001 - handed to the waiting request
                            value = e
                        if value is not None:
                            q.put(value)
            time.sleep(0.02)


def collect(entry, seconds, enough=lambda values: False):
    """Values from a subscription for up to `seconds`, or until `enough(values)`."""
    values, end = [], time.monotonic() + seconds
    while not enough(values):
        left = end - time.monotonic()
        if left <= 0:
            break
        try:
            value = entry[2].get(timeout=left)
        except queue.Empty:
            break
        if isinstance(value, Exception):
            raise value
        values.append(value)
    return values


def sha1(hex_string):
    raw = bytes.fromhex(hex_string)
    if len(raw) != 20:
        raise ValueError(f"expected 40 hex digits, got {hex_string!r}")
    return lt.sha1_hash(raw)


def node_json(node):
    return {"idHex": str(node["nid"]), "host": node["endpoint"][0], "port": node["endpoint"][1]}


class Swarm:
    def __init__(self, config):
        self.hosts = [loopback(h) for h in config.get("hosts", [])]
        bootstrap = config.get("bootstrap", [])
        overrides = config.get("settings", {})
        self.sessions = []
        for host in self.hosts:
            ses = lt.session(session_settings(host, config.get("port", 0), bootstrap, overrides))
            ses.set_ip_filter(ip_filter())
            self.sessions.append(ses)
        self.pump = Pump(self.sessions)
        self.torrents = {}
        self.seeded = []
        n, ring = len(self.sessions), min(config.get("interconnect", 0), len(self.sessions) - 1)
        for i in range(n):
            for step in range(1, ring + 1):
                j = (i + step) % n
                self.sessions[i].add_dht_node((self.hosts[j], self.sessions[j].listen_port()))

    def ses(self, i):
        if not 0 <= i < len(self.sessions):
            raise IndexError(f"no session {i} (there are {len(self.sessions)})")
        return self.sessions[i]

    def node_id(self, i):
        ids = self.ses(i).dht_state().get(b"node-id", [])
        return ids[0][:20].hex() if ids else None

    # === Requests ===

    def cmd_sessions(self):
        return [{"idHex": self.node_id(i), "host": h, "port": self.sessions[i].listen_port()}
                for i, h in enumerate(self.hosts)]

    def cmd_announce(self, i, info_hash_hex, port):
        ses, h = self.ses(i), sha1(info_hash_hex)
        try:
            ses.dht_announce(h, port, 0)
            return {"method": "dht_announce", "port": port}
        except TypeError:
            # 2.0.8's bindings lack the converter for dht::announce_flags_t (fixed in 2.0.9), so dht_announce cannot
            # be called at all: add the hash as a torrent without metadata and force its DHT announce instead.
            # It announces the session's listen port, not `port`.
            key = (i, info_hash_hex.lower())
            if key not in self.torrents:
                atp = lt.add_torrent_params()
                atp.info_hashes = lt.info_hash_t(h)
                atp.save_path = WORKDIR
                atp.flags = lt.torrent_flags.update_subscribe | lt.torrent_flags.apply_ip_filter
                self.torrents[key] = ses.add_torrent(atp)
            self.torrents[key].force_dht_announce()
            return {"method": "torrent", "port": ses.listen_port()}

    def cmd_seed(self, i, count, label, size=100_000):
        """Session i creates `count` single-file v1 torrents over sparse zero-filled files, seeds them and announces
        them on the DHT at once (force_dht_announce; then every dht_announce_interval). Returns one report each:
        {infoHashHex, name, session, peer: {host, port}}. `label` makes the names (and so the infohashes) unique."""
        ses, reports = self.ses(i), []
        for k in range(count):
            name = f"{label}-{i:03d}-{k:04d}.bin"
            base = os.path.join(WORKDIR, "seed", name)
            os.makedirs(base, exist_ok=True)
            with open(os.path.join(base, name), "wb") as f:
                f.truncate(size)
            fs = lt.file_storage()
            fs.add_file(name, size)
            ct = lt.create_torrent(fs, 16384, lt.create_torrent.v1_only)
            lt.set_piece_hashes(ct, base)
            ti = lt.torrent_info(lt.bencode(ct.generate()))
            atp = lt.add_torrent_params()
            atp.ti = ti
            atp.save_path = base
            # seed_mode: complete without a hash check (the sparse file has the right size); not auto_managed, so
            # never queued or paused (INTEROP.md); the DHT announces it.
            atp.flags = lt.torrent_flags.seed_mode | lt.torrent_flags.update_subscribe | lt.torrent_flags.apply_ip_filter
            handle = ses.add_torrent(atp)
            handle.force_dht_announce()
            self.seeded.append(handle)
            reports.append({"infoHashHex": str(ti.info_hashes().v1), "name": name, "session": i,
                            "peer": {"host": self.hosts[i], "port": ses.listen_port()}})
        return reports

    def cmd_seedStatus(self):
        return [{"seeding": bool(s.is_seeding), "paused": bool(s.paused), "peers": s.num_peers,
                 "uploaded": s.all_time_upload} for s in (h.status() for h in self.seeded)]

    def cmd_getPeers(self, i, info_hash_hex, seconds=3.0, min_peers=0):
        want = info_hash_hex.lower()

        def convert(a):
            if isinstance(a, lt.dht_get_peers_reply_alert) and str(a.info_hash) == want:
                return [{"host": p[0], "port": p[1]} for p in a.peers()]
            return None

        def distinct(batches):
            return {(p["host"], p["port"]): p for batch in batches for p in batch}

        entry = self.pump.subscribe(i, convert)
        try:
            self.ses(i).dht_get_peers(sha1(want))
            batches = collect(entry, seconds, lambda v: 0 < min_peers <= len(distinct(v)))
            return list(distinct(batches).values())
        finally:
            self.pump.unsubscribe(entry)

    def cmd_sampleInfohashes(self, i, host, port, target_hex, seconds=5.0):
        endpoint = (loopback(host), port)

        def convert(a):
            if not isinstance(a, lt.dht_sample_infohashes_alert) or tuple(a.endpoint) != endpoint:
                return None
            return {"interval": int(a.interval.total_seconds()), "num": a.num_infohashes,
                    "samples": [str(s) for s in a.samples], "nodes": [node_json(n) for n in a.nodes]}

        entry = self.pump.subscribe(i, convert)
        try:
            self.ses(i).dht_sample_infohashes(endpoint, sha1(target_hex))
            replies = collect(entry, seconds, lambda v: len(v) > 0)
            if not replies:
                raise TimeoutError(f"no sample_infohashes reply from {host}:{port} within {seconds}s")
            return replies[0]
        finally:
            self.pump.unsubscribe(entry)

    def cmd_dhtNodes(self, i, seconds=3.0):
        ses, own = self.ses(i), self.node_id(i)

        def convert(a):
            if isinstance(a, lt.dht_stats_alert):
                return ("stats", [{"nodes": b["num_nodes"], "replacements": b["num_replacements"]}
                                  for b in a.routing_table])
            if isinstance(a, lt.dht_live_nodes_alert):
                return ("live", [node_json(n) for n in a.nodes])
            return None

        entry = self.pump.subscribe(i, convert)
        try:
            ses.post_dht_stats()
            if own is not None:
                ses.dht_live_nodes(sha1(own))
            got = dict(collect(entry, seconds, lambda v: len(v) >= (2 if own is not None else 1)))
            buckets = got.get("stats", [])
            return {"idHex": own, "numNodes": sum(b["nodes"] for b in buckets),
                    "numReplacements": sum(b["replacements"] for b in buckets),
                    "buckets": buckets, "nodes": got.get("live", [])}
        finally:
            self.pump.unsubscribe(entry)

    def cmd_addDhtNode(self, i, host, port):
        self.ses(i).add_dht_node((loopback(host), port))
        return None

    def cmd_counters(self, i, names):
        # session_stats_alert is posted whatever the alert mask says; its values map metric name -> value.
        entry = self.pump.subscribe(i, lambda a: dict(a.values) if isinstance(a, lt.session_stats_alert) else None)
        try:
            self.ses(i).post_session_stats()
            got = collect(entry, 3.0, lambda v: len(v) > 0)
            if not got:
                raise TimeoutError("no session_stats_alert within 3s")
            unknown = [n for n in names if n not in got[0]]
            if unknown:
                raise KeyError(f"unknown session counters {unknown}")
            return {n: got[0][n] for n in names}
        finally:
            self.pump.unsubscribe(entry)

    def shutdown(self):
        self.pump.stopped = True
        shutil.rmtree(WORKDIR, ignore_errors=True)
        os._exit(0)


def main():
    try:
        swarm = Swarm(CONFIG)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which fails loudly
        shutil.rmtree(WORKDIR, ignore_errors=True)
        fatal("StartFailed", f"{type(e).__name__}: {e}")
    send({"event": "ready", "sessions": swarm.cmd_sessions()})
    serve(swarm, ThreadPoolExecutor(max_workers=16).submit)


if __name__ == "__main__":
    main()
