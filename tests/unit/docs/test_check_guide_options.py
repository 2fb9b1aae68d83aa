# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docs test: every option a guide, the README, a playbook or the role names exists (tests/docs/check_guide_options.py)."""

from __future__ import annotations

import importlib.util
import os
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, 'tests', 'docs', 'check_guide_options.py')


@pytest.fixture(scope='module')
def check():
    spec = importlib.util.spec_from_file_location('check_guide_options', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def specs(check):
    return check.Specs()


def problems(check, specs, name, text):
    checker = check.Checker(specs)
    checker.check_text(name, textwrap.dedent(text))
    return checker.problems


def test_the_collections_examples_name_only_real_options(check, specs):
    files = check.default_files()
    assert 'docs/docsite/rst/provisioning.rst' in files and 'README.md' in files
    assert 'playbooks/provision_hypervisor.yml' in files
    checker = check.Checker(specs)
    for path in files:
        checker.check_file(path)
    assert checker.problems == []


def test_a_misspelled_option_in_a_guide_is_named_with_file_line_and_module(check, specs):
    found = problems(check, specs, 'docs/docsite/rst/guide.rst', '''\
        A guide
        =======

        Some text.

        .. code-block:: yaml

           - name: Create the overlay
             hypervisor.images.cow_image:
               path: /var/lib/nova/instances/0b7e/disk
               backing_fle: /var/lib/nova/instances/_base/ubuntu.raw
               size: 20G
        ''')
    assert len(found) == 1
    assert found[0].startswith("docs/docsite/rst/guide.rst:11: hypervisor.images.cow_image: unknown option 'backing_fle'")
    assert 'backing_file' in found[0]


def test_aliases_and_file_attributes_are_options(check, specs):
    assert problems(check, specs, 'guide.rst', '''\
        .. code-block:: yaml

           - hypervisor.images.mkfs:
               device: /dev/vdb
               type: ext4
           - hypervisor.images.qemu_image:
               path: /x
               size: 1G
               owner: nova
               mode: '0644'
        ''') == []


def test_plan_entries_take_their_modules_options(check, specs):
    found = problems(check, specs, 'README.md', '''\
        Text.

        ```yaml
        - name: Plan
          hypervisor.images.image_plan:
            defaults: {owner: nova, moed: '0644'}
            directories:
              - {path: /srv/a, mode: '0755'}
            images:
              - qemu_image: {path: /srv/a/x, format: raw, size: 1G}
              - hypervisor.images.mkfs: {dev: /srv/a/x, fstype: ext4, lable: eph0}
              - cow_image: {path: /srv/a/y, backing_file: /srv/a/x}
              - frobnicate: {path: /srv/a/z}
        ```
        ''')
    assert found == [
        "README.md:6: hypervisor.images.image_plan: defaults: unknown option 'moed' (it takes: group, mode, owner)",
        found[1],
        found[2],
    ]
    assert found[1].startswith("README.md:11: hypervisor.images.image_plan: images entry mkfs: unknown option 'lable'")
    assert found[2].startswith("README.md:13: hypervisor.images.image_plan: images entry runs 'frobnicate'")


def test_free_form_arguments_unknown_modules_and_broken_yaml(check, specs):
    found = problems(check, specs, 'playbooks/x.yml', '''\
        - hosts: all
          tasks:
            - hypervisor.images.sparse_copy: src=/a dest=/b reflnk=auto
            - hypervisor.images.no_such_module:
                path: /x
            - ansible.builtin.import_role:
                name: hypervisor.images.instance_storage
        ''')
    assert found[0].startswith("playbooks/x.yml:3: hypervisor.images.sparse_copy: unknown option 'reflnk'")
    assert found[1] == 'playbooks/x.yml:4: hypervisor.images.no_such_module: no such module'
    assert len(found) == 2
    broken = problems(check, specs, 'guide.rst', '''\
        .. code-block:: yaml

           - name: x
             hypervisor.images.qemu_image: [unclosed
        ''')
    assert len(broken) == 1 and 'does not parse' in broken[0]


def test_the_script_exits_1_on_a_misspelling(check, tmp_path, capsys):
    guide = tmp_path / 'guide.rst'
    guide.write_text('.. code-block:: yaml\n\n   - hypervisor.images.qemu_image_info:\n       pth: /x\n', encoding='utf-8')
    assert check.main([str(guide)]) == 1
    assert "unknown option 'pth'" in capsys.readouterr().out
