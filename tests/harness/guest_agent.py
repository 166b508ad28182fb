#!/usr/bin/python3
"""Command agent inside the pcache test VM.

Runs as the last process started by guest-init.sh (inside the chroot of the
host's root).  It serves requests from the host harness over the
virtio-serial port named "pcache.agent".  Framing: a 4-byte big-endian
length, then a JSON object.  Requests are served one at a time:

  {"op": "run", "id": N, "cmd": "...", "timeout": S, "cwd": "/", "input": b64}
      -> {"id": N, "rc": int, "stdout": b64, "stderr": b64, "timed_out": bool}
  {"op": "ping", "id": N}      -> {"id": N, "pong": true}
  {"op": "shutdown", "id": N}  -> {"id": N, "bye": true}, then the agent exits
                                  and /init powers the machine off.

Only the standard library is used: this is Debian's python3 of the host.
"""

import base64
import glob
import json
import os
import signal
import struct
import subprocess
import sys
import time

PORT_NAME = "pcache.agent"


def find_port():
    for _ in range(600):
        for d in glob.glob("/sys/class/virtio-ports/vport*"):
            try:
                with open(os.path.join(d, "name")) as f:
                    if f.read().strip() == PORT_NAME:
                        return "/dev/" + os.path.basename(d)
            except OSError:
                pass
        time.sleep(0.1)
    sys.exit(f"guest_agent: no virtio port named {PORT_NAME}")


class Channel:
    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR)

    def _read_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(self.fd, n - len(buf))
            if not chunk:
                # Host side not connected (yet, or any more): wait.
                time.sleep(0.05)
                continue
            buf += chunk
        return bytes(buf)

    def receive(self):
        (length,) = struct.unpack(">I", self._read_exact(4))
        return json.loads(self._read_exact(length))

    def send(self, obj):
        data = json.dumps(obj).encode()
        payload = struct.pack(">I", len(data)) + data
        view = memoryview(payload)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]


def b64(data):
    return base64.b64encode(data).decode("ascii")


def run(request):
    stdin_data = base64.b64decode(request["input"]) if request.get("input") else None
    env = dict(os.environ)
    env.update(request.get("env") or {})
    proc = subprocess.Popen(
        ["/bin/bash", "-c", request["cmd"]],
        stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=request.get("cwd") or "/tmp",
        env=env,
        start_new_session=True,
    )
    timed_out = False
    try:
        out, err = proc.communicate(stdin_data, timeout=request.get("timeout"))
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # A process stuck in the kernel (D state) may never die; do not
        # wait for it forever.
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            out, err = b"", b"(process did not die after SIGKILL)\n"
    return {"rc": proc.returncode if proc.returncode is not None else -9,
            "stdout": b64(out), "stderr": b64(err), "timed_out": timed_out}


def main():
    channel = Channel(find_port())
    while True:
        request = channel.receive()
        op = request.get("op")
        reply = {"id": request.get("id")}
        if op == "ping":
            reply["pong"] = True
        elif op == "run":
            try:
                reply.update(run(request))
            except Exception as e:  # report, never die: /init would power off
                reply.update({"rc": 127, "stdout": "", "stderr": b64(f"guest_agent: {e}\n".encode()),
                              "timed_out": False})
        elif op == "shutdown":
            reply["bye"] = True
            channel.send(reply)
            os.sync()
            return
        else:
            reply["error"] = f"unknown op {op!r}"
        channel.send(reply)


if __name__ == "__main__":
    main()
