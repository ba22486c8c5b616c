"""python-socketio's client against the conformance server.

Run by conformance/run with the venv's interpreter. Prints one line per case,
`PASS <runtime> python/test_socketio.py: <name> (<ms> ms)` or `FAIL ...` with the error, and
exits non-zero when any case failed.
"""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import traceback

import socketio

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUNTIME = os.environ.get("SOCKIO_RUNTIME", "tokio")
BIN = os.environ.get(
    "SOCKIO_SERVER_BIN", os.path.join(ROOT, "target", "debug", "sockio-conformance-server")
)
WAIT = 5.0


class Server:
    """The conformance server on an ephemeral port, stopped by PID."""

    def __init__(self, *flags):
        self.proc = subprocess.Popen(
            [BIN, "--port", "0", "--runtime", RUNTIME, *flags], stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline()
        m = re.match(r"^listening on (127\.0\.0\.1:\d+) runtime=\S+ mode=\S+$", line.strip())
        if not m:
            self.stop()
            raise RuntimeError("server did not start: %r" % line)
        self.url = "http://" + m.group(1)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Client:
    """A python-socketio client that records every event it gets, per namespace."""

    def __init__(
        self, server, transport, namespaces=("/",), auth=None, answer=None, serializer="default"
    ):
        self.sio = socketio.Client(reconnection=False, serializer=serializer)
        self.events = queue.Queue()
        self.reasons = queue.Queue()
        self.errors = queue.Queue()
        for ns in namespaces:
            self._record(ns, answer)
        self.sio.connect(
            server.url,
            transports=[transport],
            namespaces=list(namespaces),
            auth=auth,
            wait_timeout=WAIT,
        )

    def _record(self, ns, answer):
        def on_any(event, *args):
            if answer and event in answer:
                return answer[event](*args)
            self.events.put((ns, event, list(args)))

        def on_disconnect(reason=None):
            self.reasons.put((ns, reason))

        def on_connect_error(data):
            self.errors.put((ns, data))

        self.sio.on("*", on_any, namespace=ns)
        self.sio.on("disconnect", on_disconnect, namespace=ns)
        self.sio.on("connect_error", on_connect_error, namespace=ns)

    def next(self, event, ns="/", timeout=WAIT):
        """The arguments of the next `event` in `ns`; other events are kept in order."""
        end = time.monotonic() + timeout
        skipped = []
        try:
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %r in %s" % (event, ns))
                try:
                    got = self.events.get(timeout=left)
                except queue.Empty:
                    continue
                if got[0] == ns and got[1] == event:
                    return got[2]
                skipped.append(got)
        finally:
            for s in skipped:
                self.events.put(s)

    def none(self, event, ns="/"):
        """Asserts no `event` arrived (call after a round trip of this client)."""
        seen = []
        while not self.events.empty():
            seen.append(self.events.get())
        for s in seen:
            self.events.put(s)
        assert not [s for s in seen if s[0] == ns and s[1] == event], seen

    def barrier(self, ns="/"):
        assert self.sio.call("message-with-ack", "barrier", namespace=ns, timeout=WAIT) == "barrier"

    def close(self):
        self.sio.disconnect()


CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn

    return register


def for_each_transport(name):
    def register(fn):
        for t in ("polling", "websocket"):
            CASES.append(("%s: %s" % (t, name), lambda server, t=t: fn(server, t)))
        return fn

    return register


@for_each_transport("connects, gets its auth payload back, the sid matches")
def _(server, t):
    c = Client(server, t, auth={"token": "py", "n": [1, 2]})
    try:
        assert c.next("auth") == [{"token": "py", "n": [1, 2]}]
        assert c.sio.transport() == t
        me = c.sio.call("whoami", timeout=WAIT)
        assert me == {"sid": c.sio.get_sid("/"), "namespace": "/"}, me
    finally:
        c.close()


@for_each_transport("string, JSON, several arguments and binary come back")
def _(server, t):
    c = Client(server, t)
    try:
        c.next("auth")
        sent = [
            ("hello",),
            ("utf-8: été ✓",),
            ({"a": 1, "b": [True, None, "x"]},),
            (1, "two", {"three": 3}, [4]),
            (b"\x00\x01\xff", {"nested": b"\x02", "list": [b"\x03", "x"]}),
        ]
        for args in sent:
            c.sio.emit("message", args if len(args) > 1 else args[0])
        for args in sent:
            got = c.next("message-back")
            assert got == list(args), (got, args)
    finally:
        c.close()


@for_each_transport("binary built by the server arrives as bytes, nested too")
def _(server, t):
    c = Client(server, t)
    try:
        c.next("auth")
        c.sio.emit("binary")
        first, nested = c.next("binary-back")
        assert first == b"\x00\x01\x02\xff"
        assert nested["data"] == b"\x03\x04"
        assert nested["list"][0] == b"\x05" and nested["list"][2]["deep"] == b"\x06\x07\x08"
    finally:
        c.close()


@for_each_transport("acks both ways: call returns the server's ack, the client's answer goes back")
def _(server, t):
    asked = []

    def answer(*args):
        asked.append(list(args))
        return {"got": list(args)}, "second"

    c = Client(server, t, answer={"emit-with-ack": answer})
    try:
        c.next("auth")
        assert c.sio.call("message-with-ack", ("a", 2, {"b": b"\x07"}), timeout=WAIT) == (
            "a",
            2,
            {"b": b"\x07"},
        )
        result = c.sio.call("emit-with-ack", ("x", 1), timeout=WAIT)
        assert asked == [["x", 1]], asked
        assert result == ({"got": ["x", 1]}, "second"), result
        done = threading.Event()
        acked = []
        c.sio.emit("message-with-ack", "cb", callback=lambda *a: (acked.append(a), done.set()))
        assert done.wait(WAIT) and acked == [("cb",)]
    finally:
        c.close()


@for_each_transport("ack timeouts both ways")
def _(server, t):
    answering = {"late": True}

    def probe():
        # python-socketio acknowledges every event it handles: a late answer is how it
        # fails to answer in time.
        if answering["late"]:
            time.sleep(0.6)
            return "late"
        return "pong", 2

    c = Client(server, t, answer={"timeout-probe": probe})
    try:
        c.next("auth")
        try:
            c.sio.call("ack-after", (1000, "slow"), timeout=0.2)
            raise AssertionError("the call did not time out")
        except socketio.exceptions.TimeoutError:
            pass
        assert c.sio.call("ack-after", (10, "fast"), timeout=WAIT) == "fast"
        c.sio.emit("emit-with-timeout", 250)
        assert c.next("timeout-result") == [{"status": "timeout"}]
        answering["late"] = False
        time.sleep(0.5)  # the late answer arrives and is ignored
        c.sio.emit("emit-with-timeout", 2000)
        assert c.next("timeout-result") == [{"status": "ok", "args": ["pong", 2]}]
    finally:
        c.close()


@case("namespaces: / and /custom over one connection stay apart")
def _(server):
    c = Client(server, "websocket", namespaces=("/", "/custom"), auth={"k": "v"})
    try:
        assert c.next("auth", "/") == [{"k": "v"}]
        assert c.next("auth", "/custom") == [{"k": "v"}]
        assert c.sio.get_sid("/") != c.sio.get_sid("/custom")
        c.sio.emit("message", "to custom", namespace="/custom")
        assert c.next("message-back", "/custom") == ["to custom"]
        c.barrier("/")
        c.none("message-back", "/")
        me = c.sio.call("whoami", namespace="/custom", timeout=WAIT)
        assert me["namespace"] == "/custom"
    finally:
        c.close()


@case("auth: /auth accepts the right token and refuses a bad one with message and data")
def _(server):
    ok = Client(server, "polling", namespaces=("/auth",), auth={"token": "secret"})
    try:
        assert ok.next("auth", "/auth") == [{"token": "secret"}]
    finally:
        ok.close()
    sio = socketio.Client(reconnection=False)
    errors = []
    sio.on("connect_error", lambda data: errors.append(data), namespace="/auth")
    try:
        sio.connect(server.url, namespaces=["/auth"], auth={"token": "bad"}, wait_timeout=WAIT)
        raise AssertionError("the connection was accepted")
    except socketio.exceptions.ConnectionError:
        pass
    finally:
        sio.disconnect()
    assert errors == [
        {"message": "not authorized", "data": {"code": 401, "reason": "bad token", "token": "bad"}}
    ], errors


@case("rooms and broadcast with several clients")
def _(server):
    a, b, c = (Client(server, t) for t in ("polling", "websocket", "polling"))
    try:
        for x in (a, b, c):
            x.next("auth")
        assert a.sio.call("join", "py-room", timeout=WAIT) == [a.sio.get_sid("/"), "py-room"]
        b.sio.call("join", "py-room", timeout=WAIT)
        c.sio.call("to-room", ("py-room", "hi", b"\x01"), timeout=WAIT)
        assert a.next("room-message") == ["hi", b"\x01"]
        assert b.next("room-message") == ["hi", b"\x01"]
        c.barrier()
        c.none("room-message")
        members = c.sio.call("members", "py-room", timeout=WAIT)
        assert sorted(members) == sorted([a.sio.get_sid("/"), b.sio.get_sid("/")])
        a.sio.emit("broadcast", "all")
        for x in (a, b, c):
            assert x.next("broadcast-message") == ["all"]
        a.sio.emit("broadcast-others", "others")
        assert b.next("broadcast-message") == ["others"]
        assert c.next("broadcast-message") == ["others"]
        a.barrier()
        a.none("broadcast-message")
        # A client that disconnects leaves its rooms.
        a.close()
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            members = c.sio.call("members", "py-room", timeout=WAIT)
            if members == [b.sio.get_sid("/")]:
                break
            time.sleep(0.02)
        assert members == [b.sio.get_sid("/")], members
    finally:
        for x in (a, b, c):
            x.close()


@for_each_transport("server-side disconnect gives the client's server-disconnect reason")
def _(server, t):
    c = Client(server, t)
    try:
        c.next("auth")
        c.sio.emit("disconnect-me")
        ns, reason = c.reasons.get(timeout=WAIT)
        # python-socketio spells the JavaScript client's "io server disconnect" this way.
        assert (ns, reason) == ("/", c.sio.reason.SERVER_DISCONNECT), (ns, reason)
        assert reason == "server disconnect"
        time.sleep(0.1)
        assert not c.sio.connected
    finally:
        c.close()


@for_each_transport("a failing handler acks the error and the connection lives on")
def _(server, t):
    c = Client(server, t)
    try:
        c.next("auth")
        failed = c.sio.call("fail", timeout=WAIT)
        assert failed["error"] == "boom" and failed["event"] == "fail", failed
        assert c.sio.call("message-with-ack", "alive", timeout=WAIT) == "alive"
    finally:
        c.close()


def main(server=None, cases=None, suite="python/test_socketio.py"):
    server = server or Server()
    cases = CASES if cases is None else cases
    passed = failed = 0
    try:
        for name, fn in cases:
            start = time.monotonic()
            try:
                fn(server)
                ok, detail = True, ""
            except Exception:  # noqa: BLE001 - every failure is reported
                ok, detail = False, traceback.format_exc()
            ms = round((time.monotonic() - start) * 1000)
            word = "PASS" if ok else "FAIL"
            print("%s %s %s: %s (%d ms)" % (word, RUNTIME, suite, name, ms), flush=True)
            if ok:
                passed += 1
            else:
                failed += 1
                print("    " + detail.strip().replace("\n", "\n    "), flush=True)
    finally:
        server.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
