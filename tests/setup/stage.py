# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy the collection to BUILD/ansible_collections/hypervisor/images.

ansible-test and Python imports need the collection under that path. The copy
holds the files git knows (tracked, and untracked but not ignored); outside a
git checkout it holds everything but build output and virtual environments.

The copy gets a git index of its own: ansible-test looks for the nearest .git
upwards, and would otherwise find the project's, in which the copy is ignored.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

EXCLUDE_DIRS = {'.git', '.venv', '.build', '.pytest_cache', '.hypothesis', '__pycache__', '.demo'}


def project_files(root):
    # .git is a directory in a clone and a file in a linked worktree (git worktree add)
    if os.path.exists(os.path.join(root, '.git')):
        out = subprocess.run(['git', '-C', root, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                             check=True, capture_output=True).stdout
        return sorted({p for p in out.decode().split('\0') if p and os.path.isfile(os.path.join(root, p))})
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames
                       if d not in EXCLUDE_DIRS and os.path.normpath(os.path.join(rel, d)) != 'tests/output']
        files.extend(os.path.normpath(os.path.join(rel, f)) for f in filenames if f != '.git')
    return sorted(files)


def main():
    root, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    dest = os.path.join(build, 'ansible_collections', 'hypervisor', 'images')
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    for rel in project_files(root):
        src, dst = os.path.join(root, rel), os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    if shutil.which('git'):
        subprocess.run(['git', 'init', '--quiet', dest], check=True)
        subprocess.run(['git', '-C', dest, 'add', '--all'], check=True)
    print(dest)


if __name__ == '__main__':
    main()
