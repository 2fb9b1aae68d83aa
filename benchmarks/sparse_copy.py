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

import os
import shutil
import statistics
import subprocess
import sys
import time

from ansible_collections.hypervisor.images.plugins.module_utils import _sparse
from ansible_collections.hypervisor.images.plugins.module_utils._atomic import AtomicFile
from benchmarks import _common
from benchmarks._common import GiB, allocated, drop_caches, fsync, label, loadavg, remove, run, wait_for_quiet, warm

APPARENT = 10 * GiB
DATA = 1 * GiB
EXTENTS = 16
CLONE_SIZES = (1 * GiB, 8 * GiB)
XFS_IMAGE_SIZE = 12 * GiB

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


def _atomic(src, dst, reflink='auto'):
    """What the module does: the copy into a temporary file beside dst, synced and renamed."""
    with AtomicFile(dst) as tmp:
        method = _sparse.copy_file(src, tmp.path, reflink=reflink).method
    return method


def _qemu_img():
    return shutil.which('qemu-img')


METHODS = (
    (ENGINE, _engine),
    (ATOMIC, _atomic),
    (CP, lambda src, dst: run(['cp', '--', src, dst])),
    (CP_FSYNC, lambda src, dst: (run(['cp', '--', src, dst]), fsync(dst))),
    (CP_SPARSE, lambda src, dst: run(['cp', '--sparse=always', '--', src, dst])),
    (QEMU, lambda src, dst: run([_qemu_img(), 'convert', '-q', '-f', 'raw', '-O', 'raw', src, dst])),
    (QEMU_FAST, lambda src, dst: run([_qemu_img(), 'convert', '-q', '-f', 'raw', '-O', 'raw', '-t', 'none', '-W',
                                      '-m', '16', src, dst])),
    (SHUTIL, lambda src, dst: shutil.copyfile(src, dst) and None),
)


# -- part 1: copies on the machine's own disk ------------------------------------

def copy_benchmark(src, scratch):
    can_drop = drop_caches()
    states = ['cold', 'warm'] if can_drop else ['warm']
    runs = dict((state, dict((name, {'seconds': [], 'allocated': None, 'method': None}) for name, _f in METHODS))
                for state in states)
    dst = os.path.join(scratch, 'copy.raw')
    load = {}
    for state in states:
        load[state] = {'before': wait_for_quiet(QUIET_WAIT)}
        for repeat in range(REPEAT):
            for name, method in METHODS:
                if name in SLOW and repeat > 0:
                    continue
                remove(dst)
                if state == 'cold':
                    drop_caches()
                else:
                    warm(src)
                started = time.monotonic()
                used = method(src, dst)
                seconds = time.monotonic() - started
                entry = runs[state][name]
                entry['seconds'].append(round(seconds, 4))
                entry['allocated'] = allocated(dst)
                entry['method'] = used if isinstance(used, str) else None
                if state == states[0] and repeat == 0:
                    if os.path.getsize(dst) != APPARENT or not _sparse.same_content(src, dst):
                        raise SystemExit('%s made a copy that differs from the source' % name)
                print('  %-5s %-42s %8.3f s  %6.2f GiB allocated'
                      % (state, name, seconds, entry['allocated'] / GiB), flush=True)
                remove(dst)
        load[state]['after'] = loadavg()
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

def reflink_benchmark(scratch):
    if not shutil.which('mkfs.xfs'):
        print('mkfs.xfs not found: reflink benchmark skipped (install xfsprogs)')
        return None
    image = os.path.join(scratch, 'xfs.img')
    mount_point = os.path.join(scratch, 'xfs')
    os.makedirs(mount_point, exist_ok=True)
    with open(image, 'wb') as handle:
        handle.truncate(XFS_IMAGE_SIZE)
    run(['mkfs.xfs', '-q', '-f', '-m', 'reflink=1', image])
    run(['mount', '-o', 'loop', image, mount_point])
    try:
        results = {'sizes': {}}
        for size in CLONE_SIZES:
            size_label = label(size)
            src = os.path.join(mount_point, 'full-%d.raw' % size)
            print('Writing %s on XFS' % size_label, flush=True)
            _common.write_full(src, size)
            timings = {'engine clone': [], 'engine clone + fsync + rename': [], 'cp --reflink=always': []}
            dst = os.path.join(mount_point, 'clone.raw')
            for _repeat in range(REPEAT_CLONE):
                for name in timings:
                    remove(dst)
                    os.sync()
                    started = time.monotonic()
                    if name == 'engine clone':
                        with open(dst, 'wb'):
                            pass
                        method = _sparse.copy_file(src, dst, reflink='always').method
                        assert method == _sparse.REFLINK, method
                    elif name == 'engine clone + fsync + rename':
                        _atomic(src, dst, reflink='always')
                    else:
                        run(['cp', '--reflink=always', '--', src, dst])
                    timings[name].append(round((time.monotonic() - started) * 1000, 3))
            remove(dst)
            results['sizes'][size_label] = dict(
                (name, {'ms': values, 'median_ms': round(statistics.median(values), 3)})
                for name, values in timings.items())
            print('  %-7s engine clone median %.3f ms'
                  % (size_label, results['sizes'][size_label]['engine clone']['median_ms']), flush=True)
            os.unlink(src)
        small, large = (results['sizes'][label(size)]['engine clone']['median_ms']
                        for size in (CLONE_SIZES[0], CLONE_SIZES[-1]))
        results['largest / smallest clone time (engine)'] = round(large / small, 2)
        return results
    finally:
        subprocess.run(['umount', mount_point], check=False)
        remove(image)
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
        labels = [label(size) for size in CLONE_SIZES]
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
    scratch = _common.data_dir('sparse_copy')
    src = os.path.join(scratch, 'sparse-10G-1G-16.raw')
    _common.make_sparse_file(src, APPARENT, DATA, EXTENTS)
    fs_type = _common.machine(scratch)['data_fs']
    print('Copies on %s (%s), %d run(s) per method and state' % (scratch, fs_type, REPEAT), flush=True)
    runs, dropped, load = copy_benchmark(src, scratch)
    ratio_table = ratios(runs)
    print('Reflinks on XFS in a loop file under %s, %d run(s) per size' % (scratch, REPEAT_CLONE), flush=True)
    load['reflink'] = {'before': wait_for_quiet(QUIET_WAIT)}
    reflinks = reflink_benchmark(scratch)
    load['reflink']['after'] = loadavg()

    table = _table(runs, reflinks, ratio_table)
    print()
    print(table)
    versions = _common.tool_versions(['cp', '--version'], [_qemu_img() or 'qemu-img', '--version'],
                                     ['mkfs.xfs', '-V'])
    path = _common.save(
        'sparse_copy',
        {'copies': runs, 'ratios': ratio_table, 'reflink_xfs_loop': reflinks},
        machine=dict(_common.machine(scratch), **versions),
        source={'apparent_size': APPARENT, 'data_bytes': DATA, 'extents': EXTENTS, 'allocated': allocated(src)},
        protocol={'repeat': REPEAT, 'repeat_slow': 1, 'repeat_clone': REPEAT_CLONE,
                  'page_cache_dropped': dropped, 'load_average': load,
                  'states': {'cold': 'dirty pages written back and page cache dropped before each run',
                             'warm': 'dirty pages written back and the source data read into the page cache '
                                     'before each run'}},
        table_markdown=table)
    print('\nSaved %s' % path)


def report(document, out):
    """The section of the performance page (benchmarks/report.py)."""
    results = document['results'] if 'results' in document else document
    runs, ratio_table = results['copies'], results['ratios']
    states = [state for state in ('cold', 'warm') if state in runs]
    source = document.get('source', {})
    fig, (axis,) = out.figure(size=(8.5, 4.8))
    names = [name for name, dummy in METHODS]
    height = 0.8 / len(states)
    for index, state in enumerate(states):
        positions = [row + index * height for row in range(len(names))]
        values = [runs[state][name]['median'] for name in names]
        axis.barh(positions, values, height=height, label='%s page cache' % state)
        for position, value, name in zip(positions, values, names):
            axis.text(value * 1.05, position, '%.2f s, %s' % (value, _report_size(runs[state][name]['allocated'])),
                      va='center', fontsize=7)
    axis.set_yticks([row + height * (len(states) - 1) / 2 for row in range(len(names))])
    axis.set_yticklabels(names, fontsize=8)
    axis.invert_yaxis()
    axis.set_xscale('log')
    axis.set_xlim(right=max(runs[state][name]['median'] for state in states for name in names) * 6)
    axis.set_xlabel('median seconds (log scale); labels: time, allocated bytes of the copy')
    axis.set_title('Copying a %s raw file holding %s of data in %d extents'
                   % (label(source.get('apparent_size', APPARENT)), label(source.get('data_bytes', DATA)),
                      source.get('extents', EXTENTS)), fontsize=10)
    axis.legend(fontsize=8, loc='upper right')
    figure = out.save(fig, 'sparse_copy', document, 'Copy time by method, cold and warm page cache',
                      'Median copy time of each method; the sparse_copy engine follows the data extents, '
                      'shutil writes every byte.')
    rows = [[name] + ['%.3f (%.3f)' % (runs[state][name]['median'], runs[state][name]['min']) for state in states]
            + [_report_size(runs[states[0]][name]['allocated']), runs[states[0]][name]['method'] or '']
            for name in names]
    table = out.table(['method'] + ['%s median (min) s' % state for state in states] + ['allocated', 'engine path'],
                      rows)
    ratio_rows = [[key] + ['%g' % ratio_table[state][key] for state in states] for key in ratio_table[states[0]]]
    ratios = out.table(['ratio'] + states, ratio_rows)
    text = ['Sparse copies', '-------------', '',
            '``benchmarks/sparse_copy.py``: the copy engine of ``hypervisor.images.sparse_copy`` against ``cp``, '
            '``cp --sparse=always``, ``shutil.copyfile`` and ``qemu-img convert``, each run %d times per state '
            '("cold": page cache dropped before each run; "warm": the source\'s data read into it first).'
            % document.get('protocol', {}).get('repeat', REPEAT), '', out.load(document), '', figure, table, ratios]
    reflinks = results.get('reflink_xfs_loop')
    if reflinks:
        sizes = list(reflinks['sizes'])
        rows = [[name] + ['%.3f' % reflinks['sizes'][size][name]['median_ms'] for size in sizes]
                for name in reflinks['sizes'][sizes[0]]]
        text += ['On XFS with reflinks (a loop file), a copy is a clone whose time does not depend on the size '
                 '(%s / %s: %g):' % (sizes[-1], sizes[0], reflinks['largest / smallest clone time (engine)']), '',
                 out.table(['reflink on XFS'] + ['%s median ms' % size for size in sizes], rows)]
    return '\n'.join(text)


def _report_size(size):
    return '%.2f GiB' % (size / GiB)
