#!/usr/bin/env python3
"""An HTTP user directory for the tests: a real HTTP server on 127.0.0.1. POST a JSON body
{"user", "password", "ip"}; USERS (a JSON file: {"name": {"password": ..., "account": {...}}},
read at each request) decides: 200 with the account, 401 for a wrong password, 404 for an
unknown user; a user whose entry has "status" gets that status, one with "delay_ms" is answered
that much later (a slow directory). Each request is appended to
LOG as a JSON line (user and status, never the password). Writes its port to PORT_FILE once
listening.

usage: user_directory.py PORT_FILE USERS LOG
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, users_file, log = sys.argv[1], sys.argv[2], sys.argv[3]


class Directory(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        try:
            req = json.loads(self.rfile.read(length))
            users = json.load(open(users_file))
            entry = users.get(req["user"])
            if entry is not None and "delay_ms" in entry:
                time.sleep(entry["delay_ms"] / 1000)
            if entry is None:
                status, body = 404, {}
            elif "status" in entry:
                status, body = entry["status"], {}
            elif entry["password"] != req["password"]:
                status, body = 401, {}
            else:
                status, body = 200, entry["account"]
        except Exception as e:  # a broken request is the test's bug: say so
            req, status, body = {"user": None}, 400, {"error": str(e)}
        with open(log, "a") as f:
            f.write(json.dumps({"user": req.get("user"), "status": status,
                                "auth": self.headers.get("Authorization")}) + "\n")
        answer = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Directory)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
