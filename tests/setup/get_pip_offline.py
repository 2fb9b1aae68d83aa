# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test fetches get-pip.py from a host that is not reachable from every
build machine. It runs this file as a script with pip's arguments instead:
pip comes from the interpreter's own ensurepip, then installs what
ansible-test asked for from the package index. The Makefile copies this file
to the cache path ansible-test looks in (~/.ansible/test/cache/get_pip_X_Y.py).
"""

from __future__ import annotations

import os
import subprocess
import sys

CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'


def main():
    args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
    command = [sys.executable, '-m', 'pip', 'install'] + args
    if os.path.exists(CA_BUNDLE):
        command += ['--cert', CA_BUNDLE]
    sys.exit(subprocess.call(command))


if __name__ == '__main__':
    main()
