# SPDX-License-Identifier: MIT
"""slirp4netns API socket client for the interop tests, as podman and rootlesskit speak it:
connect, write one JSON request, shut down the writing side, read the answer to EOF.

  api_client.py SOCKET 'JSON'          prints the answer
  api_client.py SOCKET --raw 'TEXT'    sends TEXT as it is (malformed input)
  api_client.py SOCKET --no-shutdown 'JSON'   never shuts down its side (slirp4netns answers
                                       a complete JSON value without it)
"""
import socket
import sys

path = sys.argv[1]
args = sys.argv[2:]
shutdown = True
if args and args[0] in ("--raw", "--no-shutdown"):
    shutdown = args[0] != "--no-shutdown"
    args = args[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(path)
s.sendall(args[0].encode())
if shutdown:
    s.shutdown(socket.SHUT_WR)
answer = b""
while chunk := s.recv(65536):
    answer += chunk
print(answer.decode())
