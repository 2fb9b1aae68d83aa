# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An image_fetch stopped mid-download by SIGTERM, SIGINT (Ctrl-C) or SIGHUP (SSH gone) leaves no temp and no lock.

The module runs as one process of its own (its file, with the arguments in a
file, as AnsiballZ would run it) against the test HTTP server on 127.0.0.1,
which sends 64 KiB of the image and then stalls; the signal comes while the
download waits for the rest.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
MODULE = os.path.join(COLLECTION_ROOT, 'plugins', 'modules', 'image_fetch.py')
SERVE = os.path.join(COLLECTION_ROOT, 'tests', 'integration', 'targets', 'image_fetch', 'files', 'serve.py')


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def server(tmp_path):
    if os.path.basename(os.path.dirname(os.path.dirname(COLLECTION_ROOT))) != 'ansible_collections':
        pytest.fail('Run the integration tests from the staged collection: make integration')
    srv = tmp_path / 'srv'
    srv.mkdir()
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', str(srv / 'image.qcow2'), '64M'], check=True)
    with open(str(srv / 'image.qcow2'), 'ab') as handle:  # more than the 64 KiB the server sends before it stalls
        handle.write(b'\0' * (1024 * 1024))
    port_file = tmp_path / 'port'
    proc = subprocess.Popen([sys.executable, SERVE, '--root', str(srv), '--port-file', str(port_file),
                             '--lifetime', '120'])
    assert wait_for(lambda: port_file.exists() and port_file.read_text().strip()), 'the test server did not start'
    yield 'http://127.0.0.1:%s' % port_file.read_text().strip()
    proc.kill()
    proc.wait()


@pytest.mark.integration
@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda number: number.name)
def test_a_stopped_fetch_leaves_no_temp_and_no_lock(tmp_path, server, signum):
    dest_dir = tmp_path / 'images'
    dest_dir.mkdir()
    args = tmp_path / 'args.json'
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {
        'url': server + '/stall-body/60/image.qcow2', 'dest': str(dest_dir / 'image.qcow2'), 'timeout': 90}}))
    proc = subprocess.Popen([sys.executable, MODULE, str(args)], env=dict(os.environ, PYTHONPATH=COLLECTIONS),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def downloading():
        return any(name.endswith('.part') for name in os.listdir(str(dest_dir)))

    try:
        assert wait_for(downloading), 'the download did not start: %s' % (proc.poll() and proc.communicate(),)
        assert any(name.endswith('.lock') for name in os.listdir(str(dest_dir)))
        time.sleep(0.5)  # well into the stalled body
        proc.send_signal(signum)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signum
    assert os.listdir(str(dest_dir)) == []
