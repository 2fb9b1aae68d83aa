# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run every ansible-test integration target, one pytest test per target.

The targets run on localhost against the real qemu-img, mkfs and loop devices.
ansible-test needs the collection at ansible_collections/hypervisor/images,
which is where `make` stages it before running pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS_DIR = os.path.join(COLLECTION_ROOT, 'tests', 'integration', 'targets')
PYTHON_VERSION = '%d.%d' % sys.version_info[:2]


def _targets():
    targets = []
    for name in sorted(os.listdir(TARGETS_DIR)):
        if name.startswith(('setup_', 'prepare_')):  # dependencies of other targets, never run alone
            continue
        aliases = os.path.join(TARGETS_DIR, name, 'aliases')
        flags = set()
        if os.path.exists(aliases):
            with open(aliases, encoding='utf-8') as handle:
                flags = {line.split('#')[0].strip() for line in handle}
        if flags & {'disabled', 'hidden', 'unsupported'}:
            continue
        targets.append(name)
    return targets


@pytest.mark.integration
@pytest.mark.parametrize('target', _targets())
def test_integration_target(target):
    if os.path.basename(os.path.dirname(os.path.dirname(COLLECTION_ROOT))) != 'ansible_collections':
        pytest.fail('Run the integration tests from the staged collection: make integration')
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-test'), 'integration', '--color', 'no', '--python', PYTHON_VERSION,
           '--local', target]
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    proc = subprocess.run(cmd, cwd=COLLECTION_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    assert proc.returncode == 0, 'ansible-test integration %s failed:\n%s' % (target, proc.stdout[-20000:])
