# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small HTTP server on 127.0.0.1 for the image_fetch tests and benchmark.

    python serve.py --root DIR --port-file FILE [--pid-file FILE] [--lifetime SECONDS]

It serves the files of DIR (sendfile, so it is not the bottleneck) with an
ETag and a Last-Modified, and honours If-None-Match and If-Modified-Since.
It writes the port it listens on to --port-file (and its PID to --pid-file)
once it accepts connections, and exits after --lifetime seconds in any case,
so that a test that dies cannot leave it running. Paths:

    /NAME                       DIR/NAME
    /plain/NAME                 DIR/NAME without ETag and Last-Modified
    /nohead/NAME                DIR/NAME, but HEAD answers 405
    /status/CODE/NAME           an answer with status CODE and no image
    /stall/SECONDS/NAME         wait SECONDS before answering
    /stall-body/SECONDS/NAME    send the headers and 64 KiB of DIR/NAME, then wait SECONDS
    /_requests                  JSON: how many requests each "METHOD /path" got (this one not counted)
"""

from __future__ import annotations

import argparse
import email.utils
import http.server
import json
import os
import sys
import threading
import time

COUNTS = {}
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    root = '.'

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.answer(body=True)

    def do_HEAD(self):
        self.answer(body=False)

    def answer(self, body):
        path = self.path.split('?', 1)[0]
        if path == '/_requests':
            with LOCK:
                return self.send_bytes(200, json.dumps(COUNTS, sort_keys=True).encode(), body, 'application/json')
        with LOCK:
            key = '%s %s' % (self.command, path)
            COUNTS[key] = COUNTS.get(key, 0) + 1
        parts = path.lstrip('/').split('/')
        validators, stall_body = True, 0
        if parts[0] == 'plain':
            validators, parts = False, parts[1:]
        elif parts[0] == 'nohead':
            if not body:
                return self.send_bytes(405, b'no HEAD here\n', body)
            parts = parts[1:]
        elif parts[0] == 'status' and len(parts) > 2:
            return self.send_bytes(int(parts[1]), b'status %s on purpose\n' % parts[1].encode(), body)
        elif parts[0] == 'stall' and len(parts) > 2:
            time.sleep(float(parts[1]))
            parts = parts[2:]
        elif parts[0] == 'stall-body' and len(parts) > 2:
            stall_body, parts = float(parts[1]), parts[2:]
        name = os.path.realpath(os.path.join(self.root, *parts))
        if not name.startswith(self.root + os.sep) or not os.path.isfile(name):
            return self.send_bytes(404, b'not found\n', body)
        self.send_file(name, body, validators, stall_body)

    def send_bytes(self, status, data, body, content_type='text/plain'):
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def not_modified(self, st, etag):
        match = self.headers.get('If-None-Match')
        if match is not None:
            return any(tag.strip() in (etag, '*') for tag in match.split(','))
        since = self.headers.get('If-Modified-Since')
        if since is not None:
            try:
                return int(st.st_mtime) <= email.utils.parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return False
        return False

    def send_file(self, name, body, validators, stall_body):
        with open(name, 'rb') as handle:
            st = os.fstat(handle.fileno())
            etag = '"%x-%x"' % (st.st_size, st.st_mtime_ns)
            if validators and self.not_modified(st, etag):
                self.send_response(304)
                self.send_header('ETag', etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header('Content-Type', 'application/octet-stream')
            self.send_header('Content-Length', str(st.st_size))
            if validators:
                self.send_header('ETag', etag)
                self.send_header('Last-Modified', email.utils.formatdate(st.st_mtime, usegmt=True))
            self.end_headers()
            if not body:
                return
            if stall_body:
                self.wfile.write(handle.read(64 * 1024))
                self.wfile.flush()
                time.sleep(stall_body)
            self.wfile.flush()
            try:
                self.connection.sendfile(handle)
            except (BrokenPipeError, ConnectionResetError):
                pass


def write_atomically(path, text):
    with open(path + '.tmp', 'w', encoding='ascii') as handle:
        handle.write(text)
    os.rename(path + '.tmp', path)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', required=True)
    parser.add_argument('--port-file', required=True)
    parser.add_argument('--pid-file')
    parser.add_argument('--lifetime', type=float, default=900)
    args = parser.parse_args(argv)
    Handler.root = os.path.realpath(args.root)
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    timer = threading.Timer(args.lifetime, os._exit, (0,))
    timer.daemon = True
    timer.start()
    if args.pid_file:
        write_atomically(args.pid_file, '%d\n' % os.getpid())
    write_atomically(args.port_file, '%d\n' % server.server_address[1])
    server.serve_forever()


if __name__ == '__main__':
    main(sys.argv[1:])
