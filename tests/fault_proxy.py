"""A small HTTP proxy that breaks the answer service on purpose, in front of a real vLLM
server (or of nothing), and records every request it receives.

Faults (set `proxy.fault`, even while a Citewise server keeps the proxy's address):
  None       forward the request and the whole response
  "refuse"   nothing listens: connections are refused (the listening socket is closed)
  "status"   answer `status` (default 500) with an OpenAI-style error body, forwarding nothing
  "delay"    forward, but only after `delay_s` seconds of silence (a slow server)
  "cut"      forward the response, then close the connection after `cut_after` bytes
             (headers included): a server that dies in the middle of an answer
  "stall"    forward `cut_after` bytes of the response, then keep the connection open
             in silence: a server that hangs in the middle of an answer

`requests` holds each request's (method, path, JSON body or None), so a test can read the
prompt the model received. One request per connection (the proxy asks both sides for
`Connection: close`), which keeps the byte counting of "cut" exact.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    body: Any  # the parsed JSON body, or None

    @property
    def messages(self) -> list[dict]:
        return list((self.body or {}).get("messages", []))


class FaultProxy:
    def __init__(self, upstream_port: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.fault: str | None = None
        self.status = 500
        self.delay_s = 0.0
        self.cut_after = 0
        self.requests: list[Received] = []
        self._closing = threading.Event()
        self._listener: socket.socket | None = None
        self.port = self._listen(0)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def set(self, fault: str | None, **options: float) -> None:
        """Switch to `fault` (None: healthy) with its options (status, delay_s, cut_after)."""
        for name, value in options.items():
            setattr(self, name, value)
        if fault == "refuse" and self._listener is not None:
            self._listener.close()
            self._listener = None
        elif fault != "refuse" and self._listener is None:
            self._listen(self.port)
        self.fault = fault

    def close(self) -> None:
        self._closing.set()
        if self._listener is not None:
            self._listener.close()

    # -- internals ------------------------------------------------------------------
    def _listen(self, port: int) -> int:
        self._listener = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        return self._listener.getsockname()[1]

    def _accept(self, listener: socket.socket) -> None:
        while not self._closing.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                head, body = _read_request(client)
            except OSError:
                return
            method, path = head.split(b" ", 2)[:2]
            self.requests.append(Received(method.decode(), path.decode(), _json(body)))
            if self.fault == "delay":
                self._closing.wait(self.delay_s)
            try:
                if self.fault == "status" or self.upstream_port is None:
                    client.sendall(_error_response(self.status if self.fault == "status"
                                                   else 502))
                else:
                    self._forward(client, _close_after(head) + body)
            except OSError:
                pass  # the client gave up first (a timeout): what it would see anyway

    def _forward(self, client: socket.socket, request: bytes) -> None:
        limit = self.cut_after if self.fault in ("cut", "stall") else None
        sent = 0
        # Leaving this block closes the upstream connection, which ends vLLM's generation.
        with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
            upstream.sendall(request)
            while data := upstream.recv(65536):
                if limit is not None and sent + len(data) >= limit:
                    client.sendall(data[: limit - sent])
                    if self.fault == "stall":
                        self._closing.wait()  # silent until the test closes the proxy
                    client.shutdown(socket.SHUT_RDWR)  # the answer stops here
                    return
                client.sendall(data)
                sent += len(data)


def _read_request(client: socket.socket) -> tuple[bytes, bytes]:
    client.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            raise OSError("the client closed before sending a request")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def _close_after(head: bytes) -> bytes:
    lines = [line for line in head.split(b"\r\n")
             if not line.lower().startswith((b"connection:", b"keep-alive:"))]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _error_response(status: int) -> bytes:
    body = json.dumps({"object": "error", "message": "injected failure", "type": "InternalError",
                       "code": status}).encode()
    return (f"HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
