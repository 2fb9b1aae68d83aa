# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""image_fetch never shows the password of a URL: not at -vvv, not in ANSIBLE_LOG_PATH, not in what it returns.

A play fetches a real qcow2 image (made by qemu-img) from the image_fetch
target's HTTP server (files/serve.py) with ``http://USER:PASSWORD@...`` URLs,
for the image and for its SHA256SUMS list, and fails on purpose in the ways a
user meets: a 404, a list without the image, an option the argument spec
refuses. ansible-playbook runs with -vvv and a log file; the password, as
written in the URL and URL-decoded, must appear in none of its output.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVE_PY = os.path.join(COLLECTION_ROOT, 'tests', 'integration', 'targets', 'image_fetch', 'files', 'serve.py')
BIN = os.path.dirname(sys.executable)

PASSWORD = 'Tr0ub4dor-%26-3'  # URL-encoded; the password itself is Tr0ub4dor-&-3
SECRETS = (PASSWORD, 'Tr0ub4dor-&-3')

PLAYBOOK = '''
- name: Fetch with credentials in the URLs
  hosts: localhost
  gather_facts: false
  vars:
    image_url: "{{ base }}/base.qcow2"
    sums_url: "{{ base }}/SHA256SUMS"
  tasks:
    - name: Fetch in check mode
      hypervisor.images.image_fetch: {url: "{{ image_url }}", dest: "{{ out }}/good.qcow2",
                                      checksum: "sha256:{{ sums_url }}"}
      check_mode: true
      register: check

    - name: Fetch
      hypervisor.images.image_fetch: {url: "{{ image_url }}", dest: "{{ out }}/good.qcow2",
                                      checksum: "sha256:{{ sums_url }}"}
      register: fetched

    - name: Fetch again
      hypervisor.images.image_fetch: {url: "{{ image_url }}", dest: "{{ out }}/good.qcow2",
                                      checksum: "sha256:{{ sums_url }}"}
      register: again

    - name: Fetch what the server does not have
      hypervisor.images.image_fetch: {url: "{{ base }}/status/404/base.qcow2", dest: "{{ out }}/missing.qcow2"}
      register: missing
      ignore_errors: true

    - name: Fetch an image the list does not name
      hypervisor.images.image_fetch: {url: "{{ base }}/other.qcow2", dest: "{{ out }}/other.qcow2",
                                      checksum: "sha256:{{ sums_url }}"}
      register: unlisted
      ignore_errors: true

    - name: Fetch with an option the argument spec refuses
      hypervisor.images.image_fetch: {url: "{{ image_url }}", dest: "{{ out }}/bad.qcow2", format: floppy}
      register: invalid
      ignore_errors: true

    - name: Show what was registered
      ansible.builtin.debug:
        var: fetched

    - name: Keep what was registered
      ansible.builtin.copy:
        content: "{{ {'check': check, 'fetched': fetched, 'again': again, 'missing': missing,
                      'unlisted': unlisted, 'invalid': invalid} | to_nice_json }}"
        dest: "{{ out }}/registered.json"
        mode: "0600"
'''


@pytest.fixture
def server(tmp_path):
    """The image_fetch target's server on 127.0.0.1, serving a qcow2 image and its SHA256SUMS; its base URL."""
    srv = tmp_path / 'srv'
    srv.mkdir()
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', str(srv / 'base.qcow2'), '16M'], check=True)
    with open(srv / 'base.qcow2', 'rb') as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    (srv / 'SHA256SUMS').write_text('%s  base.qcow2\n' % digest)
    port_file = tmp_path / 'port'
    proc = subprocess.Popen([sys.executable, SERVE_PY, '--root', str(srv), '--port-file', str(port_file),
                             '--lifetime', '300'])
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, 'the test HTTP server did not start'
            time.sleep(0.05)
        yield 'http://127.0.0.1:%s' % port_file.read_text().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.integration
def test_a_url_password_is_shown_nowhere(tmp_path, server):
    if os.path.basename(os.path.dirname(os.path.dirname(COLLECTION_ROOT))) != 'ansible_collections':
        pytest.fail('Run the integration tests from the staged collection: make integration')
    out = tmp_path / 'out'
    out.mkdir()
    playbook = tmp_path / 'play.yml'
    playbook.write_text(PLAYBOOK)
    log = tmp_path / 'ansible.log'
    base = server.replace('http://', 'http://ops:%s@' % PASSWORD, 1)
    env = dict(os.environ, ANSIBLE_LOG_PATH=str(log), ANSIBLE_NOCOLOR='1', ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_COLLECTIONS_PATH=os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT))))
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-vvv', '-i', 'localhost,', '-c', 'local',
                           '-e', json.dumps({'base': base, 'out': str(out)}), str(playbook)],
                          cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-20000:]

    registered = json.loads((out / 'registered.json').read_text())
    assert registered['check']['changed'] and not registered['check'].get('failed')
    assert registered['fetched']['changed'] and registered['fetched']['format'] == 'qcow2'
    assert not registered['again']['changed']
    assert 'answered HTTP 404' in registered['missing']['msg']
    assert 'has no sha256 digest for other.qcow2' in registered['unlisted']['msg']
    assert 'value of format must be one of' in registered['invalid']['msg']
    assert (out / 'good.qcow2').exists()

    logged = log.read_text()
    for where, text in (('ansible-playbook -vvv', proc.stdout), ('ANSIBLE_LOG_PATH', logged),
                        ('the registered results', json.dumps(registered))):
        for secret in SECRETS:
            assert secret not in text, '%s shows the password %r:\n%s' % (
                where, secret, '\n'.join(line for line in text.splitlines() if secret in line)[:5000])
    # The URLs are there, masked: the output looked at is the output that shows them.
    assert 'ops:********@127.0.0.1' in proc.stdout and 'ops:********@127.0.0.1' in logged
