# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sparse_copy engine against cp, cp --sparse=always, shutil and qemu-img.

Part 1, on the file system of BENCH_DIR (the machine's own disk): a raw file
of 10 GiB apparent size holding 1 GiB of data in 16 extents of 64 MiB is
copied by each method in turn. Every run starts from the same state: the
previous copy removed, dirty pages written back, and then either the page
cache dropped ("cold", the source is read from disk) or the source's data
read into it ("warm", what is measured is the copy itself). Each method runs
BENCH_REPEAT times (default 5) per state, in rotation; shutil, which writes
all 10 GiB, runs once. Ratios use the medians.

Other work on the machine skews the figures: before each state the benchmark
waits up to BENCH_QUIET_WAIT seconds (default 600) for the one-minute load
average to fall below 1, and records the load averages it ran under.

Part 2, on XFS in a loop file under BENCH_DIR: the time to clone (FICLONE) a
fully written 1 GiB file and a fully written 8 GiB file, BENCH_REPEAT_CLONE
times each (default 7).

Environment: BENCH_DIR (data go to its sparse_copy/ subdirectory, default
/var/tmp/hypervisor-images-bench), BENCH_RESULTS (where sparse_copy.json goes,
default benchmarks/results beside this file), BENCH_REPEAT,
BENCH_REPEAT_CLONE, BENCH_QUIET_WAIT.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

from ansible_collections.hypervisor.images.plugins.module_utils import _sparse

GiB = 1024 ** 3
MiB = 1024 ** 2

APPARENT = 10 * GiB
DATA = 1 * GiB
EXTENTS = 16
CLONE_SIZES = (1 * GiB, 8 * GiB)
XFS_IMAGE_SIZE = 12 * GiB

BENCH_DIR = os.environ.get('BENCH_DIR', '/var/tmp/hypervisor-images-bench')
RESULTS_DIR = os.environ.get('BENCH_RESULTS', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results'))
REPEAT = int(os.environ.get('BENCH_REPEAT', '5'))
REPEAT_CLONE = int(os.environ.get('BENCH_REPEAT_CLONE', '7'))
QUIET_WAIT = float(os.environ.get('BENCH_QUIET_WAIT', '600'))

ENGINE = 'sparse_copy engine'
ATOMIC = 'sparse_copy engine + fsync + rename'
CP = 'cp'
CP_FSYNC = 'cp + fsync'
CP_SPARSE = 'cp --sparse=always'
SHUTIL = 'shutil.copyfile'
QEMU = 'qemu-img convert -O raw'
QEMU_FAST = 'qemu-img convert -O raw -t none -W -m 16'
SLOW = (SHUTIL,)


# -- the methods -----------------------------------------------------------------

def _engine(src, dst):
    with open(dst, 'wb'):
        pass
    return _sparse.copy_file(src, dst).method


def _atomic(src, dst):
    return _sparse.atomic_copy(src, dst).method


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _run(argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def _qemu_img():
    return shutil.which('qemu-img')


METHODS = (
    (ENGINE, _engine),
    (ATOMIC, _atomic),
    (CP, lambda src, dst: _run(['cp', '--', src, dst])),
    (CP_FSYNC, lambda src, dst: (_run(['cp', '--', src, dst]), _fsync(dst))),
    (CP_SPARSE, lambda src, dst: _run(['cp', '--sparse=always', '--', src, dst])),
    (QEMU, lambda src, dst: _run([_qemu_img(), 'convert', '-q', '-f', 'raw', '-O', 'raw', src, dst])),
    (QEMU_FAST, lambda src, dst: _run([_qemu_img(), 'convert', '-q', '-f', 'raw', '-O', 'raw', '-t', 'none', '-W',
                                       '-m', '16', src, dst])),
    (SHUTIL, lambda src, dst: shutil.copyfile(src, dst) and None),
)


# -- set-up ------------------------------------------------------------------------

def _allocated(path):
    return os.stat(path).st_blocks * 512


def _pattern(size):
    """Incompressible data, the same on every run."""
    block = bytearray()
    seed = 0x9E3779B97F4A7C15
    while len(block) < size:
        seed = (seed * 6364136223846793005 + 1442695040888963407) % 2 ** 64
        block += seed.to_bytes(8, 'little')
    return bytes(block[:size])


def make_source(path):
    """The 10 GiB file with 16 extents of 64 MiB, made once and kept in BENCH_DIR."""
    extent = DATA // EXTENTS
    stride = APPARENT // EXTENTS
    if os.path.exists(path) and os.path.getsize(path) == APPARENT:
        fd = os.open(path, os.O_RDONLY)
        try:
            extents = _sparse.data_extents(fd, APPARENT)
        finally:
            os.close(fd)
        if extents is not None and len(extents) == EXTENTS and sum(length for _o, length in extents) == DATA:
            return
    print('Writing %s (%d GiB apparent, %d MiB of data in %d extents)'
          % (path, APPARENT // GiB, DATA // MiB, EXTENTS), flush=True)
    chunk = _pattern(8 * MiB)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as handle:
        handle.truncate(APPARENT)
        for index in range(EXTENTS):
            # each extent in the middle of its stretch: holes at the start and the end
            handle.seek(index * stride + (stride - extent) // 2)
            for _part in range(extent // len(chunk)):
                handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)


def _drop_caches():
    os.sync()
    try:
        with open('/proc/sys/vm/drop_caches', 'w', encoding='ascii') as handle:
            handle.write('3\n')
        return True
    except OSError:
        return False


def _warm(path):
    """Read the source's data into the page cache."""
    os.sync()
    fd = os.open(path, os.O_RDONLY)
    try:
        for offset, length in _sparse.data_extents(fd, os.fstat(fd).st_size) or []:
            pos = offset
            while pos < offset + length:
                pos += len(os.pread(fd, 8 * MiB, pos))
    finally:
        os.close(fd)


def _loadavg():
    return [round(value, 2) for value in os.getloadavg()]


def _wait_for_quiet():
    """Wait up to QUIET_WAIT seconds for the one-minute load average to fall below 1."""
    deadline = time.monotonic() + QUIET_WAIT
    announced = False
    while os.getloadavg()[0] >= 1.0 and time.monotonic() < deadline:
        if not announced:
            print('  waiting for the machine to quieten (load %s)' % _loadavg(), flush=True)
            announced = True
        time.sleep(5)
    return _loadavg()


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _tool_versions():
    versions = {'python': platform.python_version(), 'kernel': platform.release()}
    for name, argv in (('cp', ['cp', '--version']), ('qemu-img', [_qemu_img() or 'qemu-img', '--version']),
                       ('mkfs.xfs', ['mkfs.xfs', '-V'])):
        try:
            out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
            versions[name] = out.splitlines()[0].strip()
        except (OSError, subprocess.CalledProcessError, IndexError):
            versions[name] = None
    return versions


def _fs_type(path):
    """The file system type of ``path`` from /proc/self/mountinfo (longest matching mount point)."""
    path = os.path.realpath(path)
    best, fstype = '', None
    with open('/proc/self/mountinfo', encoding='utf-8') as handle:
        for line in handle:
            fields = line.split()
            mount_point = fields[4].replace('\\040', ' ')
            separator = fields.index('-')
            if (path == mount_point or path.startswith(mount_point.rstrip('/') + '/')) and len(mount_point) >= len(best):
                best, fstype = mount_point, fields[separator + 1]
    return fstype


# -- part 1: copies on the machine's own disk ------------------------------------

def copy_benchmark(src, scratch):
    can_drop = _drop_caches()
    states = ['cold', 'warm'] if can_drop else ['warm']
    runs = dict((state, dict((name, {'seconds': [], 'allocated': None, 'method': None}) for name, _f in METHODS))
                for state in states)
    dst = os.path.join(scratch, 'copy.raw')
    load = {}
    for state in states:
        load[state] = {'before': _wait_for_quiet()}
        for repeat in range(REPEAT):
            for name, method in METHODS:
                if name in SLOW and repeat > 0:
                    continue
                _remove(dst)
                if state == 'cold':
                    _drop_caches()
                else:
                    _warm(src)
                started = time.monotonic()
                used = method(src, dst)
                seconds = time.monotonic() - started
                entry = runs[state][name]
                entry['seconds'].append(round(seconds, 4))
                entry['allocated'] = _allocated(dst)
                entry['method'] = used if isinstance(used, str) else None
                if state == states[0] and repeat == 0:
                    if os.path.getsize(dst) != APPARENT or not _sparse.same_content(src, dst):
                        raise SystemExit('%s made a copy that differs from the source' % name)
                print('  %-5s %-42s %8.3f s  %6.2f GiB allocated'
                      % (state, name, seconds, entry['allocated'] / GiB), flush=True)
                _remove(dst)
        load[state]['after'] = _loadavg()
    for state in states:
        for entry in runs[state].values():
            entry['median'] = round(statistics.median(entry['seconds']), 4)
            entry['min'] = min(entry['seconds'])
    return runs, can_drop, load


def ratios(runs):
    out = {}
    for state, by_name in runs.items():
        med = dict((name, entry['median']) for name, entry in by_name.items())
        out[state] = {
            'engine / cp (target <= 1.0)': round(med[ENGINE] / med[CP], 3),
            'engine / cp --sparse=always': round(med[ENGINE] / med[CP_SPARSE], 3),
            'shutil / engine (target >= 40)': round(med[SHUTIL] / med[ENGINE], 1),
            'engine / qemu-img convert': round(med[ENGINE] / med[QEMU], 3),
            'engine / qemu-img convert -t none -W -m 16': round(med[ENGINE] / med[QEMU_FAST], 3),
            'engine + fsync + rename / cp + fsync': round(med[ATOMIC] / med[CP_FSYNC], 3),
        }
    return out


# -- part 2: reflinks on XFS in a loop file -------------------------------------------

def _write_full(path, size):
    chunk = _pattern(8 * MiB)
    with open(path, 'wb') as handle:
        for _part in range(size // len(chunk)):
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())


def _label(size):
    return '%d GiB' % (size // GiB) if size % GiB == 0 else '%d MiB' % (size // MiB)


def reflink_benchmark(scratch):
    if not shutil.which('mkfs.xfs'):
        print('mkfs.xfs not found: reflink benchmark skipped (install xfsprogs)')
        return None
    image = os.path.join(scratch, 'xfs.img')
    mount_point = os.path.join(scratch, 'xfs')
    os.makedirs(mount_point, exist_ok=True)
    with open(image, 'wb') as handle:
        handle.truncate(XFS_IMAGE_SIZE)
    _run(['mkfs.xfs', '-q', '-f', '-m', 'reflink=1', image])
    _run(['mount', '-o', 'loop', image, mount_point])
    try:
        results = {'sizes': {}}
        for size in CLONE_SIZES:
            label = _label(size)
            src = os.path.join(mount_point, 'full-%d.raw' % size)
            print('Writing %s on XFS' % label, flush=True)
            _write_full(src, size)
            timings = {'engine clone': [], 'engine clone + fsync + rename': [], 'cp --reflink=always': []}
            dst = os.path.join(mount_point, 'clone.raw')
            for _repeat in range(REPEAT_CLONE):
                for name in timings:
                    _remove(dst)
                    os.sync()
                    started = time.monotonic()
                    if name == 'engine clone':
                        with open(dst, 'wb'):
                            pass
                        method = _sparse.copy_file(src, dst, reflink='always').method
                        assert method == _sparse.REFLINK, method
                    elif name == 'engine clone + fsync + rename':
                        _sparse.atomic_copy(src, dst, reflink='always')
                    else:
                        _run(['cp', '--reflink=always', '--', src, dst])
                    timings[name].append(round((time.monotonic() - started) * 1000, 3))
            _remove(dst)
            results['sizes'][label] = dict((name, {'ms': values, 'median_ms': round(statistics.median(values), 3)})
                                           for name, values in timings.items())
            print('  %-7s engine clone median %.3f ms'
                  % (label, results['sizes'][label]['engine clone']['median_ms']), flush=True)
            os.unlink(src)
        small, large = (results['sizes'][_label(size)]['engine clone']['median_ms']
                        for size in (CLONE_SIZES[0], CLONE_SIZES[-1]))
        results['largest / smallest clone time (engine)'] = round(large / small, 2)
        return results
    finally:
        subprocess.run(['umount', mount_point], check=False)
        _remove(image)
        try:
            os.rmdir(mount_point)
        except OSError:
            pass


# -- report ------------------------------------------------------------------------

def _table(runs, reflinks, ratio_table):
    states = list(runs)
    lines = ['| method | %s | allocated | engine path |'
             % ' | '.join('%s median (min) s' % state for state in states),
             '|---|%s---:|---|' % ('---:|' * len(states))]
    for name, _f in METHODS:
        cells = ['%.3f (%.3f)' % (runs[state][name]['median'], runs[state][name]['min']) for state in states]
        entry = runs[states[0]][name]
        lines.append('| %s | %s | %.2f GiB | %s |'
                     % (name, ' | '.join(cells), entry['allocated'] / GiB, entry['method'] or ''))
    lines += ['', '| ratio | %s |' % ' | '.join(states), '|---|%s' % ('---:|' * len(states))]
    for key in ratio_table[states[0]]:
        lines.append('| %s | %s |' % (key, ' | '.join('%g' % ratio_table[state][key] for state in states)))
    if reflinks:
        labels = [_label(size) for size in CLONE_SIZES]
        lines += ['', '| reflink on XFS (loop file) | %s |' % ' | '.join('%s median (ms)' % label for label in labels),
                  '|---|%s' % ('---:|' * len(labels))]
        for name in reflinks['sizes'][labels[0]]:
            cells = ['%.3f' % reflinks['sizes'][label][name]['median_ms'] for label in labels]
            lines.append('| %s | %s |' % (name, ' | '.join(cells)))
        lines += ['', '%s / %s clone time (engine): %g'
                  % (labels[-1], labels[0], reflinks['largest / smallest clone time (engine)'])]
    return '\n'.join(lines)


def main():
    if not hasattr(os, 'copy_file_range'):
        sys.exit('This benchmark needs Linux and Python 3.8 or newer.')
    scratch = os.path.join(BENCH_DIR, 'sparse_copy')
    os.makedirs(scratch, exist_ok=True)
    src = os.path.join(scratch, 'sparse-10G-1G-16.raw')
    make_source(src)
    print('Copies on %s (%s), %d run(s) per method and state' % (scratch, _fs_type(scratch), REPEAT), flush=True)
    runs, dropped, load = copy_benchmark(src, scratch)
    ratio_table = ratios(runs)
    print('Reflinks on XFS in a loop file under %s, %d run(s) per size' % (scratch, REPEAT_CLONE), flush=True)
    load['reflink'] = {'before': _wait_for_quiet()}
    reflinks = reflink_benchmark(scratch)
    load['reflink']['after'] = _loadavg()

    table = _table(runs, reflinks, ratio_table)
    print()
    print(table)
    report = {
        'benchmark': 'sparse_copy',
        'date': datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        'machine': dict(_tool_versions(), cpus=os.cpu_count(), bench_dir_fs=_fs_type(scratch)),
        'source': {'apparent_size': APPARENT, 'data_bytes': DATA, 'extents': EXTENTS,
                   'allocated': _allocated(src)},
        'protocol': {'repeat': REPEAT, 'repeat_slow': 1, 'repeat_clone': REPEAT_CLONE,
                     'page_cache_dropped': dropped, 'load_average': load,
                     'states': {'cold': 'dirty pages written back and page cache dropped before each run',
                                'warm': 'dirty pages written back and the source data read into the page cache '
                                        'before each run'}},
        'copies': runs,
        'ratios': ratio_table,
        'reflink_xfs_loop': reflinks,
        'table_markdown': table,
    }
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, 'sparse_copy.json')
    with open(path + '.tmp', 'w', encoding='utf-8') as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
        handle.write('\n')
    os.rename(path + '.tmp', path)
    print('\nSaved %s' % path)
