#!/usr/bin/env python3
"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 that appends each POST
(path, headers, body) as a JSON line to LOG, answering 500 to the first FAIL_FIRST requests
and 200 after. Writes its port to PORT_FILE once listening.

usage: hook_sink.py PORT_FILE LOG FAIL_FIRST
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log, fail_first = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = {"n": 0}


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        seen["n"] += 1
        status = 500 if seen["n"] <= fail_first else 200
        with open(log, "a") as f:
            f.write(json.dumps({"path": self.path, "status": status,
                                "headers": {k.lower(): v for k, v in self.headers.items()},
                                "body": body}) + "\n")
        answer = b"ok" if status == 200 else b"try again"
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
