# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as operators run it: over SSH, as an unprivileged login, with become.

A podman container from the test image (tests/setup/build-test-image.sh) runs sshd on
127.0.0.1 in the host's network namespace (tests/setup/container-sshd.sh). Its login
``deploy`` may use sudo; ``nova`` is the unprivileged user that owns the images. The
container has no ``acl`` package, as a minimal hypervisor may not. The tests run ansible-playbook and ansible with the ssh
connection, as the README and the provisioning guide tell an operator to:

- without become, the first task that writes fails with Permission denied and a message
  that says to use become, and no Python traceback;
- the provisioning playbook with ``--become`` works on a fresh host in check mode, then for
  real, then changes nothing; the images belong to ``nova``;
- ``become_user: nova`` needs pipelining here (no acl): without it Ansible cannot hand its
  module files to nova, with it the images are written as nova;
- an ad-hoc command with ``-b`` reads an image.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

BIN = os.path.dirname(sys.executable)
IMAGE = os.environ.get('TEST_IMAGE', 'localhost/hypervisor-images-test:bookworm')
CONTAINER = 'hvimg-ssh'
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SSHD_SETUP = os.path.join(COLLECTION_ROOT, 'tests', 'setup', 'container-sshd.sh')
ROOT = '/var/lib/nova/instances'

pytestmark = pytest.mark.ssh


def podman(*args, stdin=None, check=True):
    proc = subprocess.run(['podman', *args], input=stdin, capture_output=True, text=True, check=False, timeout=300)
    if check and proc.returncode != 0:
        pytest.fail('podman %s failed (rc=%d): %s' % (' '.join(args), proc.returncode, proc.stderr or proc.stdout))
    return proc


def in_container(*argv, stdin=None, check=True):
    return podman('exec', '-i', CONTAINER, *argv, stdin=stdin, check=check)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def ssh_host(tmp_path_factory):
    """The container, its sshd, and an inventory that logs in as deploy with a key."""
    work = tmp_path_factory.mktemp('ssh')
    key = work / 'id_ed25519'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'hvimg-test', '-f', str(key)], check=True)
    podman('rm', '--force', '--ignore', CONTAINER)
    podman('run', '--detach', '--name', CONTAINER, '--network', 'host', IMAGE, 'sleep', 'infinity')
    try:
        port = free_port()
        proc = subprocess.run([SSHD_SETUP, CONTAINER, str(port), str(work / 'id_ed25519.pub')], capture_output=True,
                              text=True, check=False, timeout=300)
        assert proc.returncode == 0, 'container-sshd.sh failed: %s%s' % (proc.stdout, proc.stderr)
        inventory = work / 'inventory.ini'
        inventory.write_text(
            '[hypervisors]\n'
            'hv1 ansible_host=127.0.0.1 ansible_port=%d ansible_user=deploy ansible_connection=ssh '
            'ansible_ssh_private_key_file=%s ansible_python_interpreter=/usr/bin/python3 '
            'ansible_ssh_common_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"\n' % (port, key))
        yield {'inventory': str(inventory), 'work': work}
    finally:
        podman('rm', '--force', '--ignore', '--time', '0', CONTAINER, check=False)


def ansible(tool, ssh_host, *args, pipelining=False):
    env = dict(os.environ, ANSIBLE_PIPELINING=str(pipelining), ANSIBLE_HOST_KEY_CHECKING='False',
               ANSIBLE_STDOUT_CALLBACK='default', ANSIBLE_CALLBACK_RESULT_FORMAT='json')
    # The login's own Python, as on a real host; the Makefile points this at the controller's venv.
    env.pop('ANSIBLE_PYTHON_INTERPRETER', None)
    cmd = [os.path.join(BIN, tool), '--inventory', ssh_host['inventory'], *args]
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                          timeout=900)


def recap(output):
    """ok/changed/failed counts of hv1 from the play recap."""
    for line in output.splitlines():
        if line.startswith('hv1') and 'ok=' in line:
            return dict((field.split('=')[0], int(field.split('=')[1])) for field in line.split()[2:])
    raise AssertionError('no play recap in:\n%s' % output[-5000:])


def write_playbook(ssh_host, name, text):
    path = ssh_host['work'] / name
    path.write_text(text)
    return str(path)


def test_login_is_unprivileged(ssh_host):
    proc = ansible('ansible', ssh_host, 'hv1', '-m', 'ansible.builtin.command', '-a', 'id -un')
    assert proc.returncode == 0, proc.stdout
    assert 'deploy' in proc.stdout, proc.stdout


def test_without_become_the_message_says_become(ssh_host):
    playbook = write_playbook(ssh_host, 'no_become.yml', """---
- name: The README's example without become
  hosts: hypervisors
  gather_facts: false
  tasks:
    - name: Create the instance directories
      hypervisor.images.image_plan:
        directories:
          - path: %s/0b7e
""" % ROOT)
    proc = ansible('ansible-playbook', ssh_host, playbook)
    assert proc.returncode != 0, proc.stdout
    assert 'Permission denied' in proc.stdout and 'become' in proc.stdout, proc.stdout
    assert 'Traceback' not in proc.stdout, proc.stdout
    assert in_container('test', '-e', ROOT, check=False).returncode != 0


PLAN = """---
instance_storage_owner: nova
instance_storage_group: nova
instance_storage_min_free: 16M
provision_base_images:
  - {name: cirros.raw, format: raw, size: 64M}
provision_overlays:
  - {instance: 0b7e, name: disk, base: cirros.raw, size: 128M}
provision_flat_copies:
  - {instance: 51aa, name: disk, base: cirros.raw, size: 64M}
provision_ephemeral_disks:
  - {instance: 0b7e, name: disk.eph0, format: raw, size: 64M, fstype: ext4, label: ephemeral0}
  - {instance: 0b7e, name: disk.swap, format: raw, size: 32M, fstype: swap, label: swap0}
"""


def test_provision_with_become(ssh_host):
    plan = write_playbook(ssh_host, 'plan.yml', PLAN)
    args = ('hypervisor.images.provision_hypervisor', '--extra-vars', '@' + plan, '--become')

    check = ansible('ansible-playbook', ssh_host, *args, '--check', '--diff')
    assert check.returncode == 0, 'check mode on a fresh host over SSH failed:\n%s' % check.stdout[-10000:]
    assert recap(check.stdout)['changed'] > 0, check.stdout[-5000:]
    assert in_container('test', '-e', ROOT, check=False).returncode != 0, 'check mode created %s' % ROOT

    real = ansible('ansible-playbook', ssh_host, *args)
    assert real.returncode == 0, real.stdout[-10000:]
    assert recap(real.stdout)['changed'] > 0

    again = ansible('ansible-playbook', ssh_host, *args)
    assert again.returncode == 0, again.stdout[-10000:]
    assert recap(again.stdout)['changed'] == 0, again.stdout[-10000:]

    owners = in_container('stat', '--format', '%U:%G %n', ROOT + '/_base/cirros.raw', ROOT + '/0b7e/disk',
                          ROOT + '/0b7e/disk.eph0', ROOT + '/51aa/disk').stdout.split('\n')
    assert all(line.startswith('nova:nova ') for line in owners if line), owners
    fstype = in_container('blkid', '--output', 'value', '--match-tag', 'TYPE', ROOT + '/0b7e/disk.eph0').stdout.strip()
    assert fstype == 'ext4'


BECOME_NOVA = """---
- name: Images written as their owner
  hosts: hypervisors
  gather_facts: false
  tasks:
    - name: A directory nova may write
      hypervisor.images.image_plan:
        directories:
          - {path: %(root)s, mode: "0755"}
          - {path: %(root)s/nova, owner: nova, group: nova, mode: "0755"}
      become: true

    - name: An image created as nova
      hypervisor.images.qemu_image:
        path: %(root)s/nova/%(name)s
        format: qcow2
        size: 16M
      become: true
      become_user: nova
"""


def test_become_user_needs_pipelining_without_acl(ssh_host):
    assert in_container('sh', '-c', 'command -v setfacl', check=False).returncode != 0, 'the test image has acl'

    without = ansible('ansible-playbook', ssh_host,
                      write_playbook(ssh_host, 'nova_plain.yml', BECOME_NOVA % {'root': ROOT, 'name': 'plain.qcow2'}))
    assert without.returncode != 0, without.stdout[-5000:]
    assert 'Failed to set permissions on the temporary files' in without.stdout, without.stdout[-5000:]
    assert in_container('test', '-e', ROOT + '/nova/plain.qcow2', check=False).returncode != 0

    piped = ansible('ansible-playbook', ssh_host,
                    write_playbook(ssh_host, 'nova_piped.yml', BECOME_NOVA % {'root': ROOT, 'name': 'piped.qcow2'}),
                    pipelining=True)
    assert piped.returncode == 0, piped.stdout[-10000:]
    owner = in_container('stat', '--format', '%U:%G', ROOT + '/nova/piped.qcow2').stdout.strip()
    assert owner == 'nova:nova'


def test_ad_hoc_with_become(ssh_host):
    in_container('sh', '-c', 'mkdir -p /root/images && qemu-img create -q -f qcow2 /root/images/a.qcow2 8M')
    proc = ansible('ansible', ssh_host, 'hv1', '--become', '--module-name', 'hypervisor.images.qemu_image_info',
                   '--args', 'path=/root/images/a.qcow2', '--one-line')
    assert proc.returncode == 0, proc.stdout
    payload = json.loads(proc.stdout.split(' => ', 1)[1])
    assert payload['format'] == 'qcow2' and payload['virtual_size'] == 8 * 1024 ** 2, payload

    denied = ansible('ansible', ssh_host, 'hv1', '--module-name', 'hypervisor.images.qemu_image_info',
                     '--args', 'path=/root/images/a.qcow2', '--one-line')
    assert denied.returncode != 0, denied.stdout
    assert 'Permission denied' in denied.stdout and 'become' in denied.stdout, denied.stdout
    assert 'Traceback' not in denied.stdout, denied.stdout
