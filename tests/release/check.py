# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release check (make release-check): what operators get from the tarball works on its own.

1. The version in galaxy.yml is the newest release of changelogs/changelog.yaml
   and CHANGELOG.rst has a section for it.
2. ``ansible-galaxy collection build`` of the staged collection; the tarball
   holds no test output, virtual environment, build tree, caches or benchmark
   data, and does hold what operators need (modules, role, playbooks, docs).
3. ``ansible-galaxy collection install --offline`` of the tarball into an
   empty collections path; ``ansible-builder introspect`` of that path finds
   the system requirements of bindep.txt (through meta/execution-environment.yml)
   and no Python requirements, as an execution environment build would.
4. With ANSIBLE_COLLECTIONS_PATH naming only that installation (and no
   collections from Python's path): ``ansible-doc`` for every module and for
   the role, and tests/release/smoke.yml run twice from a directory outside
   the checkout; the first run must change something, the second nothing.

So nothing the collection needs at run time may live in a file that
``build_ignore`` in galaxy.yml drops.

Usage: check.py STAGED_COLLECTION (make passes .build/ansible_collections/hypervisor/images).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)

# Nothing of these may be in the tarball (paths relative to the collection root).
FORBIDDEN = ('tests/output', 'tests/output/*', '.venv*', '.build*', '*/__pycache__', '__pycache__', '*.pyc',
             '.pytest_cache', '.hypothesis', '.git', '.git/*', 'benchmarks/results', 'benchmarks/results/*',
             'benchmarks/data', 'benchmarks/data/*', '*.tar.gz', '.demo', 'changelogs/.plugin-cache.yaml')
# ... and these must be.
REQUIRED = ('MANIFEST.json', 'FILES.json', 'README.md', 'LICENSE', 'CHANGELOG.rst', 'meta/runtime.yml',
            'plugins/modules/qemu_image.py', 'plugins/module_utils/_run.py', 'roles/instance_storage/tasks/main.yml',
            'roles/instance_storage/meta/argument_specs.yml', 'playbooks/provision_hypervisor.yml',
            'docs/docsite/extra-docs.yml', 'bindep.txt', 'meta/execution-environment.yml')
RECAP = re.compile(r'^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def fail(message):
    sys.exit('release check: %s' % message)


def step(message):
    print('release check: %s' % message, flush=True)


def run(argv, env=None, cwd=None):
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    if proc.returncode != 0:
        fail('%s failed (rc %d):\n%s' % (' '.join(argv), proc.returncode, proc.stdout[-8000:]))
    return proc.stdout


def check_versions(collection):
    with open(os.path.join(collection, 'galaxy.yml'), encoding='utf-8') as handle:
        version = yaml.safe_load(handle)['version']
    with open(os.path.join(collection, 'changelogs', 'changelog.yaml'), encoding='utf-8') as handle:
        releases = (yaml.safe_load(handle) or {}).get('releases') or {}
    if version not in releases:
        fail('galaxy.yml says version %s, which changelogs/changelog.yaml has no release for: run make changelog'
             % version)
    newest = max(releases, key=lambda name: tuple(int(part) for part in re.findall(r'\d+', name)))
    if newest != version:
        fail('galaxy.yml says version %s but the newest release in changelogs/changelog.yaml is %s'
             % (version, newest))
    with open(os.path.join(collection, 'CHANGELOG.rst'), encoding='utf-8') as handle:
        if not re.search(r"^v%s\n[=-]+$" % re.escape(version), handle.read(), re.M):
            fail('CHANGELOG.rst has no section v%s: run make changelog' % version)
    known = set(releases[version].get('fragments') or [])
    pending = sorted(os.path.basename(path) for path in glob.glob(os.path.join(collection, 'changelogs', 'fragments',
                                                                               '*.y*ml'))
                     if os.path.basename(path) not in known)
    if pending:
        step('fragments not in CHANGELOG.rst yet (make changelog folds them in): %s' % ', '.join(pending))
    return version


def build(collection, workdir, version):
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', workdir, collection])
    tarball = os.path.join(workdir, 'hypervisor-images-%s.tar.gz' % version)
    if not os.path.exists(tarball):
        fail('ansible-galaxy collection build wrote no %s' % tarball)
    with tarfile.open(tarball) as archive:
        members = [name[2:] if name.startswith('./') else name for name in archive.getnames()]
    bad = sorted(name for name in members if any(fnmatch.fnmatch(name, pattern) for pattern in FORBIDDEN))
    if bad:
        fail('the tarball holds files it must not (add them to build_ignore in galaxy.yml): %s' % ', '.join(bad[:20]))
    missing = [name for name in REQUIRED if name not in members]
    if missing:
        fail('the tarball lacks %s' % ', '.join(missing))
    step('built %s: %d files, %d KiB' % (os.path.basename(tarball), len(members), os.path.getsize(tarball) // 1024))
    return tarball


def install(tarball, workdir):
    path = os.path.join(workdir, 'collections')
    # In the isolated environment: ansible-galaxy would skip a collection it finds installed elsewhere.
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '--force', '--collections-path',
         path, tarball], isolated_env(path), workdir)
    installed = os.path.join(path, 'ansible_collections', 'hypervisor', 'images')
    if not os.path.isfile(os.path.join(installed, 'MANIFEST.json')):
        fail('the tarball did not install into %s' % installed)
    return path, installed


def isolated_env(collections_path):
    env = dict(os.environ)
    for name in list(env):
        if name.startswith('ANSIBLE_') and name != 'ANSIBLE_PYTHON_INTERPRETER':
            del env[name]
    env.update(ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false',
               ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='false')
    # Discovery can pick a broken pyenv shim on these machines: name the interpreter.
    env.setdefault('ANSIBLE_PYTHON_INTERPRETER', sys.executable)
    return env


def check_requirements(collections_path, installed, cwd):
    """What ansible-builder reads from the installed collection: bindep.txt's lines, no Python packages."""
    out = run([os.path.join(BIN, 'ansible-builder'), 'introspect', '--sanitize', collections_path], cwd=cwd)
    data = yaml.safe_load(out[out.index('---'):])
    with open(os.path.join(installed, 'bindep.txt'), encoding='utf-8') as handle:
        shipped = [re.sub(r'\s+#.*$', '', line.strip()) for line in handle
                   if line.strip() and not line.lstrip().startswith('#')]
    found = [re.sub(r'\s+# from collection hypervisor\.images$', '', line) for line in data.get('system') or []]
    if found != shipped:
        fail('ansible-builder introspect finds the system requirements %s, bindep.txt has %s' % (found, shipped))
    if data.get('python'):
        fail('ansible-builder introspect finds Python requirements: %s' % data['python'])
    step('ansible-builder introspect finds %d system requirements (bindep.txt) and no Python requirements'
         % len(found))


def check_docs(installed, env, cwd):
    modules = sorted(os.path.splitext(name)[0] for name in os.listdir(os.path.join(installed, 'plugins', 'modules'))
                     if name.endswith('.py') and not name.startswith('_'))
    listed = run([os.path.join(BIN, 'ansible-doc'), '--type', 'module', '--list', 'hypervisor.images'], env, cwd)
    for module in modules:
        name = 'hypervisor.images.%s' % module
        if name not in listed:
            fail('ansible-doc --list does not list %s' % name)
        out = run([os.path.join(BIN, 'ansible-doc'), '--type', 'module', name], env, cwd)
        if 'EXAMPLES:' not in out or 'RETURN VALUES:' not in out:
            fail('ansible-doc %s shows no examples or return values:\n%s' % (name, out[-3000:]))
    roles = sorted(os.listdir(os.path.join(installed, 'roles')))
    for role in roles:
        out = run([os.path.join(BIN, 'ansible-doc'), '--type', 'role', 'hypervisor.images.%s' % role], env, cwd)
        if 'ENTRY POINT' not in out:
            fail('ansible-doc --type role hypervisor.images.%s shows no entry point:\n%s' % (role, out[-3000:]))
    step('ansible-doc works for %d modules (%s) and %d role(s)' % (len(modules), ', '.join(modules), len(roles)))


def smoke(env, workdir):
    playbook = os.path.join(workdir, 'smoke.yml')
    shutil.copyfile(os.path.join(HERE, 'smoke.yml'), playbook)
    smoke_dir = os.path.join(workdir, 'smoke')
    argv = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', '-e', 'smoke_dir=%s' % smoke_dir,
            playbook]
    changes = []
    for attempt in ('first', 'second'):
        started = time.monotonic()
        out = run(argv, env, workdir)
        recap = RECAP.search(out)
        if not recap or int(recap.group(4)) or int(recap.group(3)):
            fail('the smoke play failed on its %s run:\n%s' % (attempt, out[-8000:]))
        changes.append(int(recap.group(2)))
        step('smoke play, %s run: ok=%s changed=%s (%.1f s)' % (attempt, recap.group(1), recap.group(2),
                                                                time.monotonic() - started))
    if changes[0] == 0 or changes[1] != 0:
        fail('the smoke play must change something on its first run and nothing on its second; changed=%s'
             % changes)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    collection = os.path.abspath(sys.argv[1])
    started = time.monotonic()
    version = check_versions(collection)
    workdir = tempfile.mkdtemp(prefix='hvimg-release-')
    try:
        tarball = build(collection, workdir, version)
        collections_path, installed = install(tarball, workdir)
        env = isolated_env(collections_path)
        check_requirements(collections_path, installed, workdir)
        check_docs(installed, env, workdir)
        smoke(env, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    step('passed for hypervisor.images %s in %.0f s' % (version, time.monotonic() - started))


if __name__ == '__main__':
    main()
