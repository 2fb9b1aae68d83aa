# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Molecule scenarios in podman containers, and ad-hoc use of the modules against them.

pytest-ansible finds every extensions/molecule/<scenario>/molecule.yml that git
knows under pytest's root directory (make passes --rootdir) and hands each to
the molecule_scenario fixture; test_scenario runs `molecule test` for it.

The hypervisors scenario keeps its containers at the end (--destroy=never) so
that test_ad_hoc_qemu_image_info can run `ansible -m` against them, as an
operator would; they are destroyed when this module's tests are done.

molecule keeps a scenario's state (created, prepared) in a directory named
after the scenario and the project directory's base name, so every checkout on
a machine shares it; and with --destroy=never it skips the destroy that opens
`molecule test`. After a run that was cut short (the machine restarted, say),
the next one would skip create and prepare and find its containers dead, every
task UNREACHABLE. test_scenario therefore destroys first, which resets the
state, and a failure message carries what podman says of each container.
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


def probe(name):
    try:
        return subprocess.run(['podman', 'exec', name, 'true'], capture_output=True, text=True, check=False, timeout=60)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(['podman', 'exec', name, 'true'], -1, '', 'no answer in 60 s')


def answers(name):
    """Whether the container runs commands: podman may still call it running when it no longer can."""
    return probe(name).returncode == 0


def container_report(names):
    """What podman says of each container, for a failure message."""
    lines = []
    for name in names:
        state = subprocess.run(['podman', 'container', 'inspect', '--format',
                                '{{.State.Status}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}} '
                                'started={{.State.StartedAt}} finished={{.State.FinishedAt}} error={{.State.Error}}',
                                name], capture_output=True, text=True, check=False, timeout=60)
        answer = probe(name)
        lines.append('%s: %s; podman exec %s true: rc=%d %s' % (
            name, (state.stdout or state.stderr).strip(), name, answer.returncode, answer.stderr.strip()))
    return '\n'.join(lines)


@pytest.fixture(scope='module', autouse=True)
def destroy_containers_at_the_end():
    yield
    proc = molecule('destroy')
    assert proc.returncode == 0, 'molecule destroy failed:\n%s' % proc.stdout[-5000:]


def test_scenario(molecule_scenario, monkeypatch):
    # From no containers and no state, whatever an earlier run left.
    destroyed = molecule('destroy')
    assert destroyed.returncode == 0, 'molecule destroy failed:\n%s' % destroyed.stdout[-5000:]
    # Keep the containers for the ad-hoc test; the fixture above destroys them.
    monkeypatch.setenv('MOLECULE_OPTS', '--destroy=never')
    proc = molecule_scenario.test()
    assert proc.returncode == 0, 'molecule test --scenario-name %s failed (its output is above); the containers:\n%s' % (
        molecule_scenario.name, container_report(HOSTS_WITH_ROOM + (HOST_WITHOUT_ROOM,)))


@pytest.fixture
def converged_hosts():
    """The scenario's containers, converged: test_scenario leaves them so; run alone, converge them here."""
    hosts = HOSTS_WITH_ROOM + (HOST_WITHOUT_ROOM,)
    if not all(answers(name) for name in hosts):
        # molecule would skip creating containers it believes exist
        destroyed = molecule('destroy')
        assert destroyed.returncode == 0, 'molecule destroy failed:\n%s' % destroyed.stdout[-5000:]
        proc = molecule('converge')
        assert proc.returncode == 0, 'molecule converge failed:\n%s\nThe containers:\n%s' % (
            proc.stdout[-10000:], container_report(hosts))
    return hosts


def test_ad_hoc_qemu_image_info(converged_hosts):
    cmd = [os.path.join(BIN, 'ansible'), 'all', '--inventory', ','.join(converged_hosts) + ',',
           '--connection', 'containers.podman.podman', '--extra-vars', 'ansible_python_interpreter=/usr/bin/python3',
           '--module-name', 'hypervisor.images.qemu_image_info', '--args', 'path=%s' % IMAGE, '--one-line']
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, '%s\nThe containers:\n%s' % (proc.stdout, container_report(converged_hosts))

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
