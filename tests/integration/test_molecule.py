# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Molecule scenarios in podman containers, and ad-hoc use of the modules against them.

pytest-ansible finds every extensions/molecule/<scenario>/molecule.yml that git
knows under pytest's root directory (make passes --rootdir) and hands each to
the molecule_scenario fixture; test_scenario runs `molecule test` for it.

The hypervisors scenario keeps its containers at the end (--destroy=never) so
that test_ad_hoc_qemu_image_info can run `ansible -m` against them, as an
operator would; they are destroyed when this module's tests are done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTENSIONS = os.path.join(COLLECTION_ROOT, 'extensions')
BIN = os.path.dirname(sys.executable)

# The hosts of extensions/molecule/hypervisors/molecule.yml; hvimg-small has no room for images.
SCENARIO = 'hypervisors'
HOSTS_WITH_ROOM = ('hvimg-hv1', 'hvimg-hv2')
HOST_WITHOUT_ROOM = 'hvimg-small'
IMAGE = '/var/lib/nova/instances/_base/ubuntu.qcow2'

pytestmark = pytest.mark.molecule


def molecule(*args):
    return subprocess.run([sys.executable, '-m', 'molecule', *args, '--scenario-name', SCENARIO], cwd=EXTENSIONS,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)


def running(name):
    proc = subprocess.run(['podman', 'container', 'inspect', '--format', '{{.State.Running}}', name],
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0 and proc.stdout.strip() == 'true'


@pytest.fixture(scope='module', autouse=True)
def destroy_containers_at_the_end():
    yield
    proc = molecule('destroy')
    assert proc.returncode == 0, 'molecule destroy failed:\n%s' % proc.stdout[-5000:]


def test_scenario(molecule_scenario, monkeypatch):
    # Keep the containers for the ad-hoc test; the fixture above destroys them.
    monkeypatch.setenv('MOLECULE_OPTS', '--destroy=never')
    proc = molecule_scenario.test()
    assert proc.returncode == 0, 'molecule test --scenario-name %s failed (its output is above)' % molecule_scenario.name


@pytest.fixture
def converged_hosts():
    """The scenario's containers, converged: test_scenario leaves them so; run alone, converge them here."""
    hosts = HOSTS_WITH_ROOM + (HOST_WITHOUT_ROOM,)
    if not all(running(name) for name in hosts):
        proc = molecule('converge')
        assert proc.returncode == 0, 'molecule converge failed:\n%s' % proc.stdout[-10000:]
    return hosts


def test_ad_hoc_qemu_image_info(converged_hosts):
    cmd = [os.path.join(BIN, 'ansible'), 'all', '--inventory', ','.join(converged_hosts) + ',',
           '--connection', 'containers.podman.podman', '--extra-vars', 'ansible_python_interpreter=/usr/bin/python3',
           '--module-name', 'hypervisor.images.qemu_image_info', '--args', 'path=%s' % IMAGE, '--one-line']
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout

    results = {}
    for line in proc.stdout.splitlines():
        host, sep, rest = line.partition(' | ')
        if sep and ' => ' in rest:
            status, payload = rest.split(' => ', 1)
            results[host] = (status, json.loads(payload))
    assert sorted(results) == sorted(converged_hosts), proc.stdout

    for host in HOSTS_WITH_ROOM:
        status, facts = results[host]
        assert status == 'SUCCESS'
        assert facts['changed'] is False and facts['exists'] is True
        assert facts['path'] == IMAGE
        assert facts['format'] == 'qcow2'
        assert facts['virtual_size'] == 1024 ** 3
        assert facts['cluster_size'] == 65536
        assert facts['backing_file'] is None
    # The host without room has no images, which is a fact and not an error.
    status, facts = results[HOST_WITHOUT_ROOM]
    assert status == 'SUCCESS' and facts['exists'] is False
