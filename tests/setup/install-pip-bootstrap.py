# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put get_pip_offline.py where the installed ansible-test looks for its pip bootstrap script."""

from __future__ import annotations

import os
import re
import shutil
import sys

import ansible_test


def main():
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'get_pip_offline.py')
    requirements = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
    with open(requirements, encoding='utf-8') as handle:
        match = re.search(r"pip='([0-9.]+)'", handle.read())
    if not match:
        sys.exit('Cannot find the pip version ansible-test bootstraps in %s' % requirements)
    target = os.path.expanduser('~/.ansible/test/cache/get_pip_%s.py' % match.group(1).replace('.', '_'))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(source, target)


if __name__ == '__main__':
    main()
