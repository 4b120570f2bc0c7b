"""A stand-in for vLLM in the browser tests: an OpenAI-compatible HTTP server that writes
a long answer slowly, so a person (the test) has time to press Stop.

It is a stand-in, not a model: it repeats one cited sentence. Citewise talks to it as
it talks to vLLM (the `openai` client, streamed chat completions, /health, /v1/models);
the real vLLM is exercised in tests/vllm. What the browser tests need from it is what a
slow model does: tokens that keep coming, and a request that ends early when Citewise
cancels it. It records each streamed request: how many tokens it sent and whether the
client closed the connection before the answer was complete.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "e2e-stand-in"
SENTENCE = "The cafeteria serves lunch from 11:30 to 14:00 on weekdays [1]. "
TOKENS = 400  # at TOKEN_SECONDS each: 20 s, far longer than a test waits before Stop
TOKEN_SECONDS = 0.05


@dataclass
class Generation:
    tokens_sent: int = 0
    finished: bool = False  # wrote the whole answer
    cancelled: bool = False  # the client closed the connection first


@dataclass
class StandIn:
    url: str  # the OpenAI base URL, ending in /v1
    generations: list[Generation] = field(default_factory=list)


def _tokens() -> list[str]:
    words = SENTENCE.split(" ")
    pieces = [word + " " for word in words if word]
    return [pieces[i % len(pieces)] for i in range(TOKENS)]


def _chunk(content: str | None, *, finish: str | None = None, usage: dict | None = None) -> bytes:
    choices = [] if usage else [{"index": 0, "delta": {"content": content} if content else {},
                                 "finish_reason": finish}]
    body = {"id": "cmpl-e2e", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": MODEL, "choices": choices}
    if usage:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n".encode()


# One HTTP handler class per stand-in, its methods closing over it; the count is theirs.
def _handler(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:  # noqa: C901
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: the test output is for failures
            pass

        def _json(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/health":
                self._json({})
            elif self.path.rstrip("/") == "/v1/models":
                self._json({"object": "list", "data": [{"id": MODEL, "object": "model"}]})
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                self.send_error(404)
            elif request.get("stream"):
                self._stream()
            else:  # a follow-up's question rewrite: the question as it was asked
                question = request["messages"][-1]["content"]
                self._json({"id": "cmpl-e2e", "object": "chat.completion", "model": MODEL,
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": question}}],
                            "usage": {"prompt_tokens": 10, "completion_tokens": 10,
                                      "total_tokens": 20}})

        def _stream(self) -> None:
            generation = Generation()
            stand_in.generations.append(generation)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for token in _tokens():
                    self.wfile.write(_chunk(token))
                    self.wfile.flush()
                    generation.tokens_sent += 1
                    time.sleep(TOKEN_SECONDS)
                self.wfile.write(_chunk(None, finish="stop"))
                self.wfile.write(_chunk(None, usage={"prompt_tokens": 100,
                                                     "completion_tokens": TOKENS,
                                                     "total_tokens": 100 + TOKENS}))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                generation.finished = True
            except (BrokenPipeError, ConnectionResetError):
                generation.cancelled = True
            self.close_connection = True

    return Handler


def start() -> tuple[StandIn, ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)  # handler set below
    stand_in = StandIn(url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    server.RequestHandlerClass = _handler(stand_in)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="llm-stand-in", daemon=True).start()
    return stand_in, server
