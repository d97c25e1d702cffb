#!/usr/bin/python3
"""One python3-libtorrent 2.0.8 session on a loopback address seeding generated torrents, for metadata tests.

Run with Debian's /usr/bin/python3 by LibtorrentSeeders.ts:
    /usr/bin/python3 libtorrent_seeder.py '<config json>'
Config: {host: str, port: int, kinds: [str] | null, bulk: int, settings: {name: value}}
The session listens on host:port (0 = ephemeral) with the loopback settings of ../interop/libtorrent_settings.py
(DHT off: peers are told the address directly). Every torrent's content is zero-filled sparse files in a temp dir,
so each is a complete seed; the dir is removed on shutdown.

Kinds (all by default; `kinds` picks a subset, `bulk` adds that many small single-file v1 torrents):
  v1-single        single-file v1 (lt.create_torrent, v1_only)
  v1-multi-large   600 files with long paths, v1: info dict > 16 KiB (several metadata pieces)
  v1-size-16384, v1-size-16385, v1-size-32767, v1-size-32768, v1-size-32769
                   v1 info dicts of exactly that many bytes (built by hand: metadata piece boundaries)
  v2-only          v2-only multi-file (create_torrent v2_only; ut_metadata cannot fetch it: SHA-256 only)
  hybrid           hybrid multi-file (create_torrent default) with a zero-length file; has BEP 47 pad files
  v1-pads          v1 with BEP 47 pad files and a zero-length file (create_torrent v1_only | canonical_files)
  v1-3000-files    v1 with 3000 files
  latin1-raw       name and paths in ISO-8859-1 bytes, no name.utf-8 (built by hand: libtorrent only makes UTF-8)
  latin1-utf8      the same bytes plus name.utf-8 / path.utf-8 (built by hand)
  html-name        name "<script>alert(1)</script>" and HTML in file names (built by hand: "/" in a name)

Protocol as ../interop/libtorrent_node.py: stdout {"event":"ready",...} once, {"event":"fatal",...} before a
deliberate exit, {"id","result"|"error"} per request; stdin {"id","cmd","args"}; end of stdin means shutdown.
"""
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from jsonlines import fatal, import_libtorrent, send, serve  # noqa: E402 - local modules

lt = import_libtorrent()

from libtorrent_settings import ip_filter, loopback, session_settings  # noqa: E402 - after the import check

CONFIG = json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}")
# tmpfs when there is one: creating thousands of small files on this machine's ext4 /tmp takes ~2 ms each (measured:
# 3000 files in 5.8 s there, 0.07 s on /dev/shm).
SHM = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
WORKDIR = tempfile.mkdtemp(prefix="bitscrape-seeder-", dir=SHM)
METADATA_PIECE = 16384

ALL_KINDS = ["v1-single", "v1-multi-large", "v1-size-16384", "v1-size-16385", "v1-size-32767", "v1-size-32768",
             "v1-size-32769", "v2-only", "hybrid", "v1-pads", "v1-3000-files", "latin1-raw", "latin1-utf8",
             "html-name"]


# === bencoding (by hand, so raw bytes stay raw) ===

def benc(value):
    if isinstance(value, bool):
        raise TypeError("no booleans in bencode")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return b"%d:%s" % (len(value), bytes(value))
    if isinstance(value, list):
        return b"l" + b"".join(benc(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted(((k.encode("utf-8") if isinstance(k, str) else k), v) for k, v in value.items())
        return b"d" + b"".join(benc(k) + benc(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def zero_pieces(total, piece_length):
    """v1 piece hashes of `total` zero bytes (the content of every file here)."""
    full, rest = divmod(total, piece_length)
    out = hashlib.sha1(bytes(piece_length)).digest() * full
    if rest or total == 0:
        out += hashlib.sha1(bytes(rest)).digest()
    return out


def v1_info(name, files, piece_length=16384, extra=None):
    """A multi-file v1 info dict over zero-filled files; files are (path components [bytes], length, extras)."""
    total = sum(f[1] for f in files)
    entries = []
    for parts, length, more in files:
        entry = {b"length": length, b"path": list(parts)}
        entry.update(more)
        entries.append(entry)
    info = {b"name": name, b"piece length": piece_length, b"pieces": zero_pieces(total, piece_length),
            b"files": entries}
    info.update(extra or {})
    return info


# === content on disk ===

def make_files(root, files):
    """Sparse zero-filled files under root; files are (relative path str, length)."""
    for rel, length in files:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.truncate(length)


def created(label, files, flags, piece_length=16384):
    """A torrent made by lt.create_torrent over real files: returns (torrent_info, save_path)."""
    base = os.path.join(WORKDIR, label)
    top = files[0][0].split("/")[0]
    make_files(base, files)
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(base, top))
    ct = lt.create_torrent(fs, piece_length, flags)
    ct.set_creator("BitScrape test seeder")
    lt.set_piece_hashes(ct, base)
    return lt.torrent_info(lt.bencode(ct.generate())), base


def hand_built(label, info):
    """A torrent from a hand-bencoded info dict: files are created where libtorrent maps them."""
    base = os.path.join(WORKDIR, label)
    os.makedirs(base, exist_ok=True)
    ti = lt.torrent_info(benc({b"info": info}))
    fs = ti.files()
    make_files(base, [(fs.file_path(i), fs.file_size(i)) for i in range(fs.num_files())
                      if not fs.file_flags(i) & lt.file_storage.flag_pad_file])
    return ti, base


def exact_size(label, target):
    """A v1 info dict of exactly `target` bytes: files until close, then one file whose name length fills the rest.
    Every file is 1 byte (the filler 0), so the dict stays below 16 KiB of content and `pieces` stays one hash."""
    name = f"exact-size-{target}".encode()
    entry = lambda parts, length: len(benc({b"length": length, b"path": parts}))  # noqa: E731
    base = len(benc(v1_info(name, [])))  # with an empty file list
    files, size = [], base
    while size + entry([b"filler", b"f"], 0) < target - 300:
        i = len(files)
        parts = [f"dir-{i // 50:03d}".encode(), f"file-{i:05d}-padding-to-make-it-longer.bin".encode()]
        files.append((parts, 1, {}))
        size += entry(parts, 1)
    for k in range(1, 400):
        if size + entry([b"filler", b"f" * k], 0) == target:
            info = v1_info(name, files + [([b"filler", b"f" * k], 0, {})])
            if len(benc(info)) != target:
                raise RuntimeError(f"size arithmetic is off for {target}")
            return hand_built(label, info)
    raise RuntimeError(f"could not build an info dict of exactly {target} bytes")


LATIN1_NAME = "Café crème brûlée à la française".encode("latin-1")
LATIN1_FILES = [
    (["Chaîne numéro 1", "naïve façade.txt"], 1000),
    (["À bientôt, Zoë.bin"], 20000),
    (["ÆØÅ æøå ß ¿¡ ½ ©®.dat"], 0),
]


def latin1(label, with_utf8):
    files = []
    for parts, length in LATIN1_FILES:
        more = {b"path.utf-8": [p.encode("utf-8") for p in parts]} if with_utf8 else {}
        files.append(([p.encode("latin-1") for p in parts], length, more))
    extra = {b"name.utf-8": LATIN1_NAME.decode("latin-1").encode("utf-8")} if with_utf8 else {}
    return hand_built(label, v1_info(LATIN1_NAME, files, extra=extra))


def html_name(label):
    files = [([b"<img src=x onerror=alert(1)>.html"], 3000), ([b"\"quotes' & <b>amp;</b>", b"</title>.txt"], 10),
             ([b"javascript:alert(document.cookie)"], 1)]
    return hand_built(label, v1_info(b"<script>alert(1)</script>", [(p, n, {}) for p, n in files]))


def build(kind):
    V1, V2 = lt.create_torrent.v1_only, lt.create_torrent.v2_only
    if kind == "v1-single":
        return created(kind, [("single-file.bin", 100_000)], V1)
    if kind == "v1-multi-large":
        files = [(f"multi-large/a-rather-long-directory-name-{i // 20:03d}/and-a-nested-subdirectory-with-a-long-name/"
                  f"file-{i:04d}-with-a-long-descriptive-name.bin", 100 + i) for i in range(600)]
        return created(kind, files, V1)
    if kind.startswith("v1-size-"):
        return exact_size(kind, int(kind[len("v1-size-"):]))
    if kind == "v2-only":
        return created(kind, [("v2-only/a.bin", 70_000), ("v2-only/sub/b.bin", 20_000), ("v2-only/c.txt", 5)], V2)
    if kind == "hybrid":
        files = [("hybrid/a.bin", 100_000), ("hybrid/b/c.bin", 30_000), ("hybrid/empty.txt", 0), ("hybrid/d", 7)]
        return created(kind, files, 0)
    if kind == "v1-pads":
        files = [("v1-pads/a.bin", 100_000), ("v1-pads/b.bin", 30_000), ("v1-pads/empty", 0), ("v1-pads/c", 5)]
        return created(kind, files, V1 | lt.create_torrent.canonical_files)
    if kind == "v1-3000-files":
        return created(kind, [(f"many-files/d{i // 100:02d}/f{i:04d}.bin", 1 + i % 7) for i in range(3000)], V1)
    if kind == "latin1-raw":
        return latin1(kind, False)
    if kind == "latin1-utf8":
        return latin1(kind, True)
    if kind == "html-name":
        return html_name(kind)
    if kind.startswith("bulk-"):
        return hand_built(kind, {b"name": f"{kind}.bin".encode(), b"piece length": 16384, b"length": 1000,
                                 b"pieces": zero_pieces(1000, 16384)})
    raise ValueError(f"unknown torrent kind {kind!r}")


# === reports ===

def text(raw):
    return raw.decode("utf-8", errors="replace")


def files_of(info):
    """Files as the info dict lists them (v1 list when present, else the v2 file tree), pads marked."""
    out = []
    if b"files" in info:
        for f in info[b"files"]:
            parts = f[b"path"]
            raw = b"/".join(parts)
            entry = {"path": text(raw), "pathHex": raw.hex(), "length": f[b"length"]}
            if b"p" in f.get(b"attr", b""):
                entry["pad"] = True
            out.append(entry)
    elif b"length" in info:
        out.append({"path": text(info[b"name"]), "pathHex": info[b"name"].hex(), "length": info[b"length"]})
    else:
        def walk(tree, prefix):
            for key in sorted(tree):
                node = tree[key]
                if b"" in node:
                    raw = b"/".join(prefix + [key])
                    out.append({"path": text(raw), "pathHex": raw.hex(), "length": node[b""][b"length"]})
                else:
                    walk(node, prefix + [key])
        walk(info[b"file tree"], [])
    return out


def report(kind, ti, host, port):
    raw = ti.info_section()
    info = lt.bdecode(raw)
    hashes = ti.info_hashes()
    v1 = str(hashes.v1) if hashes.has_v1() else None
    v2 = str(hashes.v2) if hashes.has_v2() else None
    if v1 is not None and hashlib.sha1(raw).hexdigest() != v1:
        raise RuntimeError(f"{kind}: SHA-1 of info_section() is not the v1 infohash")
    if v2 is not None and hashlib.sha256(raw).hexdigest() != v2:
        raise RuntimeError(f"{kind}: SHA-256 of info_section() is not the v2 infohash")
    version = "hybrid" if v1 and v2 else ("v2" if v2 else "v1")
    return {
        "kind": kind,
        "version": version,
        "infoHashHex": v1,
        "infoHashV2Hex": v2,
        "infoHashV2TruncatedHex": v2[:40] if v2 else None,
        "handshakeHashHex": v1 if v1 else v2[:40],
        "name": text(info[b"name"]),
        "nameHex": info[b"name"].hex(),
        "nameUtf8": text(info[b"name.utf-8"]) if b"name.utf-8" in info else None,
        "files": files_of(info),
        "infoHex": raw.hex(),
        "infoSize": len(raw),
        "metadataPieces": -(-len(raw) // METADATA_PIECE),
        "peer": {"host": host, "port": port},
    }


class Seeder:
    def __init__(self, config):
        self.host = loopback(config.get("host", "127.41.0.1"))
        overrides = {
            # Peers get our address from the test, never from a DHT.
            "enable_dht": False,
            # A benchmark opens many connections at once: raise the stock 200 / 10-per-second limits.
            "connections_limit": 20000,
            "connection_speed": 1000,
            "listen_queue_size": 2000,
            "alert_mask": int(lt.alert.category_t.error_notification | lt.alert.category_t.status_notification),
        }
        overrides.update(config.get("settings", {}))
        self.ses = lt.session(session_settings(self.host, config.get("port", 0), [], overrides))
        self.ses.set_ip_filter(ip_filter())
        end = time.monotonic() + 10
        while self.ses.listen_port() == 0:
            if time.monotonic() > end:
                raise RuntimeError(f"session did not start listening on {self.host}")
            time.sleep(0.01)
        self.port = self.ses.listen_port()
        kinds = config.get("kinds") or ALL_KINDS
        kinds = list(kinds) + [f"bulk-{i:05d}" for i in range(config.get("bulk", 0))]
        self.handles, self.reports = [], []
        for kind in kinds:
            ti, save_path = build(kind)
            atp = lt.add_torrent_params()
            atp.ti = ti
            atp.save_path = save_path
            # seed_mode: complete without a hash check; not auto_managed: never queued or paused.
            atp.flags = (lt.torrent_flags.seed_mode | lt.torrent_flags.apply_ip_filter | lt.torrent_flags.disable_dht
                         | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex)
            self.handles.append(self.ses.add_torrent(atp))
            self.reports.append(report(kind, ti, self.host, self.port))
        self.await_seeding(30)

    def await_seeding(self, seconds):
        end = time.monotonic() + seconds
        while True:
            states = [h.status() for h in self.handles]
            bad = [(r["kind"], str(s.state), s.errc.message() if s.errc.value() else "") for r, s in
                   zip(self.reports, states) if not s.is_seeding or s.paused]
            if not bad:
                return
            if time.monotonic() > end:
                raise RuntimeError(f"torrents not seeding after {seconds}s: {bad[:5]}")
            time.sleep(0.02)

    def cmd_torrents(self):
        return self.reports

    def cmd_status(self):
        return [{"kind": r["kind"], "state": str(s.state), "seeding": bool(s.is_seeding), "peers": s.num_peers,
                 "uploaded": s.all_time_upload}
                for r, s in zip(self.reports, (h.status() for h in self.handles))]

    def shutdown(self):
        shutil.rmtree(WORKDIR, ignore_errors=True)
        os._exit(0)


def main():
    started = time.monotonic()
    try:
        seeder = Seeder(CONFIG)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which fails loudly
        shutil.rmtree(WORKDIR, ignore_errors=True)
        fatal("StartFailed", f"{type(e).__name__}: {e}")
    send({"event": "ready", "peer": {"host": seeder.host, "port": seeder.port}, "count": len(seeder.reports),
          "buildSeconds": round(time.monotonic() - started, 3)})
    serve(seeder)


if __name__ == "__main__":
    main()
