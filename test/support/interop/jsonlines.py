"""The JSON-lines protocol of the python harnesses (libtorrent_node.py, ../seeders/libtorrent_seeder.py).

stdout: {"event":"ready",...} once, {"event":"fatal","reason","error"} before a deliberate exit, and
{"id","result"} or {"id","error"} per request; stdin: {"id","cmd","args"} per line; end of stdin means shutdown.
"""
import json
import os
import sys
import threading

_OUT = threading.Lock()


def send(message):
    with _OUT:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def fatal(reason, error, code=2):
    send({"event": "fatal", "reason": reason, "error": error})
    os._exit(code)


def import_libtorrent():
    """The libtorrent module, or a fatal MissingDependency report naming the Debian package."""
    try:
        import libtorrent
        return libtorrent
    except ImportError as e:
        fatal("MissingDependency", f"python3-libtorrent is not importable by {sys.executable} ({e}); "
              "install it with: apt-get install -y python3-libtorrent", 3)


def serve(target, submit=lambda handle, request: handle(request)):
    """Answers each stdin request with target.cmd_<cmd>(*args) (run through `submit`) until stdin ends, then
    calls target.shutdown(). Every failure becomes an error reply, never a crash."""
    def handle(request):
        rid, cmd, args = request.get("id"), request.get("cmd"), request.get("args", [])
        if cmd == "shutdown":
            send({"id": rid, "result": None})
            target.shutdown()
        try:
            handler = getattr(target, f"cmd_{cmd}", None)
            if handler is None:
                raise ValueError(f"unknown command {cmd!r}")
            send({"id": rid, "result": handler(*args)})
        except Exception as e:  # noqa: BLE001 - reported to the parent
            send({"id": rid, "error": f"{type(e).__name__}: {e}"})

    for line in sys.stdin:
        if line.strip():
            submit(handle, json.loads(line))
    target.shutdown()
