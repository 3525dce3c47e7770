#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Servers on the host's loopback for the `synack run` interop tests (tests/interop/run_*.sh).

Each binds 127.0.0.1 on a free port, prints "PORT n" (flushed) and serves until killed:

  host_server.py http      GET /bytes/N: N bytes, byte i = i mod 251 (as `synack serve --http`);
                           PUT or POST /upload: answers "length=N sha256=HEX" for the body
  host_server.py echo      echoes every connection until its EOF, then closes (threads)
  host_server.py sink      reads a connection to EOF, answers "length=N sha256=HEX" and closes
                           (so the client's FIN must reach us while the client still reads);
                           prints "sink length=N sha256=HEX" too
  host_server.py latesink  as sink, but starts reading each connection 1 s after accepting it
  host_server.py hold      accepts connections and never reads from them (until they close)

A second and third argument bind another address and port instead (e.g. ::1 0 for IPv6, or
0.0.0.0 8080 inside synack run's namespace, for port forwards).
"""
import hashlib
import http.server
import select
import socket
import socketserver
import sys
import threading
import time

BLOCK = bytes(i % 251 for i in range(251)) * 1024  # a multiple of 251: the pattern restarts


def announce(port):
    print(f"PORT {port}", flush=True)


class Http(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.startswith("/bytes/"):
            self.send_error(404)
            return
        n = int(self.path[len("/bytes/"):])
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        view = memoryview(BLOCK)
        while n > 0:
            take = min(n, len(BLOCK))
            self.wfile.write(view[:take])
            n -= take

    def do_PUT(self):
        h = hashlib.sha256()
        length = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                while size > 0:
                    chunk = self.rfile.read(min(size, 1 << 20))
                    h.update(chunk)
                    length += len(chunk)
                    size -= len(chunk)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                h.update(chunk)
                length += len(chunk)
                left -= len(chunk)
        body = f"length={length} sha256={h.hexdigest()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while chunk := self.request.recv(1 << 16):
            self.request.sendall(chunk)


class Sink(socketserver.BaseRequestHandler):
    def handle(self):
        h = hashlib.sha256()
        length = 0
        while chunk := self.request.recv(1 << 20):
            h.update(chunk)
            length += len(chunk)
        result = f"length={length} sha256={h.hexdigest()}"
        print(f"sink {result}", flush=True)  # for the tests, also when nobody reads the answer
        try:
            self.request.sendall(result.encode())
        except OSError:
            pass


class LateSink(Sink):
    def handle(self):
        time.sleep(1)  # the client has written and exited before we read anything
        super().handle()


class Hold(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(None)
        select.select([], [], [self.request])  # nothing but an exceptional condition wakes us


class HttpServer(http.server.ThreadingHTTPServer):
    request_queue_size = 1024


def main():
    mode = sys.argv[1]
    bind = (sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1", int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    family = socket.AF_INET6 if ":" in bind[0] else socket.AF_INET
    if mode == "http":
        server = type("HttpServer6", (HttpServer,), {"address_family": family})(bind, Http)
    else:
        server = type("Server6", (Server,), {"address_family": family})(bind, {"echo": Echo, "sink": Sink, "latesink": LateSink, "hold": Hold}[mode])
    announce(server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
