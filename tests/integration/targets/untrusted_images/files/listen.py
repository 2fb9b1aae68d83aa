# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listen on 127.0.0.1:PORT and append a line to LOG for every connection (is anything connecting out?).

Usage: listen.py PORT LOG. Runs until killed.
"""

from __future__ import annotations

import socket
import sys

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', int(sys.argv[1])))
server.listen(16)
open(sys.argv[2], 'w').close()
while True:
    connection, peer = server.accept()
    with open(sys.argv[2], 'a') as log:
        log.write('connection from %s:%d\n' % peer)
    connection.close()
