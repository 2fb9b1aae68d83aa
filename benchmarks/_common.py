# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmarks share: paths, source files, running modules and tools, the machine, the output."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time

from ansible_collections.hypervisor.images.plugins.module_utils._fs import mount_of
from ansible_collections.hypervisor.images.plugins.module_utils._sparse import data_extents

GiB = 1024 ** 3
MiB = 1024 ** 2

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The directory that holds ansible_collections/ (the collection is staged there by make).
COLLECTIONS_PATH = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
# Benchmark data is big: keep it on the machine's own disk, outside the checkout.
DATA_DIR = os.environ.get('BENCH_DIR', '/var/tmp/hypervisor-images-bench')
# Results are kept in the project (make passes the checkout's benchmarks/results).
RESULTS_DIR = os.environ.get('BENCH_RESULTS', os.path.join(COLLECTION_ROOT, 'benchmarks', 'results'))


def data_dir(name):
    """The directory of one benchmark's data files under DATA_DIR, created when missing."""
    path = os.path.join(DATA_DIR, name)
    os.makedirs(path, exist_ok=True)
    return path


# -- source files ------------------------------------------------------------------

def pattern(size):
    """Incompressible data, the same on every run."""
    block = bytearray()
    seed = 0x9E3779B97F4A7C15
    while len(block) < size:
        seed = (seed * 6364136223846793005 + 1442695040888963407) % 2 ** 64
        block += seed.to_bytes(8, 'little')
    return bytes(block[:size])


def make_sparse_file(path, size, data, extents=16):
    """A raw file of ``size`` bytes holding ``data`` bytes of incompressible data in ``extents`` extents.

    Each extent sits in the middle of its share of the file, with holes
    around it. A file already there with that layout is kept.
    """
    if data == 0:
        with open(path, 'wb') as handle:
            handle.truncate(size)
        return
    extent = data // extents
    stride = size // extents
    if os.path.exists(path) and os.path.getsize(path) == size:
        fd = os.open(path, os.O_RDONLY)
        try:
            found = data_extents(fd, size)
        finally:
            os.close(fd)
        if found is not None and len(found) == extents and sum(length for _o, length in found) == data:
            return
    print('Writing %s (%s apparent, %s of data in %d extents)' % (path, label(size), label(data), extents), flush=True)
    chunk = pattern(min(8 * MiB, extent))
    tmp = path + '.tmp'
    with open(tmp, 'wb') as handle:
        handle.truncate(size)
        for index in range(extents):
            handle.seek(index * stride + (stride - extent) // 2)
            for _part in range(extent // len(chunk)):
                handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)


def write_full(path, size):
    """A file of ``size`` bytes of incompressible data, synced."""
    chunk = pattern(8 * MiB)
    with open(path, 'wb') as handle:
        for _part in range(size // len(chunk)):
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())


def label(size):
    return '%d GiB' % (size // GiB) if size % GiB == 0 else '%d MiB' % (size // MiB)


def remove(*paths):
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def allocated(path):
    return os.stat(path).st_blocks * 512


def fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the page cache and the machine's load -------------------------------------------

def drop_caches():
    """Write dirty pages back and drop the page cache; False where this user may not."""
    os.sync()
    try:
        with open('/proc/sys/vm/drop_caches', 'w', encoding='ascii') as handle:
            handle.write('3\n')
        return True
    except OSError:
        return False


def warm(path):
    """Write dirty pages back, then read the data of ``path`` into the page cache."""
    os.sync()
    fd = os.open(path, os.O_RDONLY)
    try:
        for offset, length in data_extents(fd, os.fstat(fd).st_size) or [(0, os.fstat(fd).st_size)]:
            pos = offset
            while pos < offset + length:
                read = len(os.pread(fd, 8 * MiB, pos))
                if not read:
                    break
                pos += read
    finally:
        os.close(fd)


def loadavg():
    return [round(value, 2) for value in os.getloadavg()]


def wait_for_quiet(max_wait):
    """Wait up to ``max_wait`` seconds for the one-minute load average to fall below 1; return the load."""
    deadline = time.monotonic() + max_wait
    announced = False
    while os.getloadavg()[0] >= 1.0 and time.monotonic() < deadline:
        if not announced:
            print('  waiting for the machine to quieten (load %s)' % loadavg(), flush=True)
            announced = True
        time.sleep(5)
    return loadavg()


# -- running tools and modules -----------------------------------------------------------

def run(argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def timed(argv):
    """Seconds ``argv`` took."""
    start = time.monotonic()
    run(argv)
    return time.monotonic() - start


def module_path(name):
    return os.path.join(COLLECTION_ROOT, 'plugins', 'modules', name + '.py')


def run_module(name, args):
    """Run a module as Ansible would run it on the host, without the controller. Returns (seconds, result)."""
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_PATH)
    try:
        start = time.monotonic()
        proc = subprocess.run([sys.executable, module_path(name), handle.name], env=env, capture_output=True,
                              text=True, check=False)
        elapsed = time.monotonic() - start
    finally:
        os.unlink(handle.name)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError('module %s printed no JSON: %s %s' % (name, proc.stdout[-2000:], proc.stderr[-2000:]))
    return elapsed, result


def tool_versions(*commands):
    """The first line each of ``commands`` (argv lists) prints, by the command's name; None where it fails."""
    versions = {}
    for argv in commands:
        try:
            out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
            versions[os.path.basename(argv[0])] = out.splitlines()[0].strip()
        except (OSError, subprocess.CalledProcessError, IndexError):
            versions[os.path.basename(argv[0])] = None
    return versions


def _proc_field(path, key):
    """The value of the first ``key: value`` line of a /proc file, or None."""
    try:
        with open(path, encoding='utf-8') as handle:
            for line in handle:
                name, sep, value = line.partition(':')
                if sep and name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return None


def machine(path=DATA_DIR):
    """What the figures were measured on; only ratios carry across machines."""
    memory = _proc_field('/proc/meminfo', 'MemTotal')
    return {'cpus': os.cpu_count(), 'cpu_model': _proc_field('/proc/cpuinfo', 'model name'),
            'memory': int(memory.split()[0]) * 1024 if memory else None,
            'kernel': platform.release(), 'python': platform.python_version(), 'data_fs': mount_of(path)['fstype']}


# -- output ---------------------------------------------------------------------------------

def print_table(title, header, rows):
    print('\n### %s\n' % title)
    print('| %s |' % ' | '.join(header))
    print('|%s|' % '|'.join('---' for dummy in header))
    for row in rows:
        print('| %s |' % ' | '.join(str(cell) for cell in row))


def save(name, results, **extra):
    """Write ``results`` (and ``extra`` top-level keys) to RESULTS_DIR/NAME.json atomically; return its path."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    document = dict(extra, benchmark=name, date=time.strftime('%Y-%m-%d'), results=results)
    document.setdefault('machine', machine())
    path = os.path.join(RESULTS_DIR, '%s.json' % name)
    with open(path + '.tmp', 'w', encoding='utf-8') as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.write('\n')
    os.rename(path + '.tmp', path)
    return path
