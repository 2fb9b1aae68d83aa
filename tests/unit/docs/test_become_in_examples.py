# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every example that reaches hypervisors says to become: an SSH login is not root.

The plays of the README's and the guides' YAML examples that run on other hosts
than localhost set ``become``; every ``ansible-playbook`` command of a
playbook of this collection that runs on hypervisors, and every ad-hoc
``ansible`` command, passes ``--become`` (or ``-b``). Without it each of them
fails with Permission denied under /var/lib/nova.
"""

from __future__ import annotations

import importlib.util
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, 'tests', 'docs', 'check_guide_options.py')
#: the playbooks of the collection that run on hypervisors (demo runs on localhost as whoever runs it)
REMOTE_PLAYBOOKS = ('provision_hypervisor', 'audit_images')
COMMAND = re.compile(r'^\s*(?:\$\s+)?(ansible-playbook|ansible)\s+(.*)$')
BECOME = re.compile(r'(?:^|\s)(?:--become|-b)(?:\s|$)')


@pytest.fixture(scope='module')
def docs():
    spec = importlib.util.spec_from_file_location('check_guide_options', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_files(docs):
    return [name for name in docs.default_files(ROOT) if name.endswith(('.rst', '.md'))]


def read_lines(name):
    with open(os.path.join(ROOT, name), encoding='utf-8') as handle:
        return handle.read().splitlines()


def plays_without_become(name, start, text):
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    if not isinstance(document, list):
        return []
    missing = []
    for play in document:
        if not isinstance(play, dict) or 'hosts' not in play:
            continue
        if str(play['hosts']).strip() in ('localhost', '127.0.0.1'):
            continue
        if 'become' not in play:
            missing.append('%s:%d: the play %r on %s does not set become' % (name, start, play.get('name'), play['hosts']))
    return missing


def commands_without_become(name, lines):
    missing = []
    for number, line in enumerate(lines, 1):
        found = COMMAND.match(line.strip('`'))
        if not found:
            continue
        tool, arguments = found.groups()
        remote = (tool == 'ansible' and not arguments.startswith(('localhost', '-'))
                  or tool == 'ansible-playbook'
                  and any('hypervisor.images.%s' % playbook in arguments for playbook in REMOTE_PLAYBOOKS))
        if remote and not BECOME.search(arguments):
            missing.append('%s:%d: %s' % (name, number, line.strip()))
    return missing


def test_every_play_on_hypervisors_becomes(docs):
    missing = []
    for name in example_files(docs):
        lines = read_lines(name)
        blocks = docs.markdown_blocks(lines) if name.endswith('.md') else docs.rst_blocks(lines)
        for start, text in blocks:
            missing.extend(plays_without_become(name, start, text))
    assert not missing, '\n'.join(missing)


def test_every_command_on_hypervisors_becomes(docs):
    missing = []
    for name in example_files(docs):
        missing.extend(commands_without_become(name, read_lines(name)))
    assert not missing, '\n'.join(missing)


def test_the_checks_find_what_is_missing():
    play = '- hosts: hypervisors\n  tasks: []\n- hosts: localhost\n  tasks: []\n'
    assert plays_without_become('x.rst', 3, play) == ["x.rst:3: the play None on hypervisors does not set become"]
    lines = ['   $ ansible-playbook -i inventory hypervisor.images.provision_hypervisor -e @plan.yml',
             'ansible hypervisors -m hypervisor.images.qemu_image_info -a path=/x',
             'ansible hypervisors -b -m hypervisor.images.qemu_image_info -a path=/x',
             '   $ ansible-playbook hypervisor.images.demo',
             'ansible-playbook -i inventory hypervisor.images.audit_images --become']
    assert commands_without_become('README.md', lines) == ['README.md:1: ' + lines[0].strip(), 'README.md:2: ' + lines[1]]


def test_the_playbooks_page_lists_every_variable_a_playbook_reads():
    """Each ``NAME | default(...)`` of a playbook of the collection's own (NAME after the playbook) has a row."""
    with open(os.path.join(ROOT, 'docs', 'docsite', 'rst', 'playbooks.rst'), encoding='utf-8') as handle:
        page = handle.read()
    missing = []
    for playbook, prefix in (('provision_hypervisor', 'provision_'), ('audit_images', 'audit_'), ('demo', 'demo_')):
        with open(os.path.join(ROOT, 'playbooks', playbook + '.yml'), encoding='utf-8') as handle:
            text = handle.read()
        for name in sorted(set(re.findall(r'\b(%s[a-z0-9_]+)\s*\|\s*default\b' % prefix, text))):
            if '``%s``' % name not in page:
                missing.append('%s: %s' % (playbook, name))
    assert not missing, 'docs/docsite/rst/playbooks.rst does not list: %s' % ', '.join(missing)
