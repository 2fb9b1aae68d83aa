# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image_fetch integration target's HTTP server (files/serve.py), run in a thread on 127.0.0.1 for unit tests."""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import os
import threading

SERVE_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        'integration', 'targets', 'image_fetch', 'files', 'serve.py')


def _load():
    spec = importlib.util.spec_from_file_location('image_fetch_serve', SERVE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve = _load()


class Server:
    """A running server: ``url(path)`` for its URLs, ``requests()`` for the counts of what it was asked."""

    def __init__(self, httpd):
        self.httpd = httpd
        self.base = 'http://127.0.0.1:%d' % httpd.server_address[1]

    def url(self, path):
        return '%s/%s' % (self.base, path.lstrip('/'))

    def requests(self, method=None, path=None):
        with serve.LOCK:
            counts = dict(serve.COUNTS)
        if method is None:
            return counts
        return counts.get('%s /%s' % (method, path.lstrip('/')), 0)


@contextlib.contextmanager
def http_server(root):
    """Serve the directory ``root`` until the block ends."""
    handler = type('Handler', (serve.Handler,), {'root': os.path.realpath(str(root))})
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    httpd.daemon_threads = True
    with serve.LOCK:
        serve.COUNTS.clear()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(httpd)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
