# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy time and allocated bytes against the share of a raw image that holds data.

Raw files of 4 GiB apparent size holding 0, 1/16, 1/4, 1/2 and all of it in
data (16 extents, holes between them) are copied by the sparse_copy engine,
cp, cp --sparse=always, Python's shutil.copyfile and qemu-img convert, in the
same rotation and the same warm state as the sparse_copy benchmark (dirty
pages written back, the source's data in the page cache). The time of a copy
runs until the copy is on disk (an fsync of it is included): without that, a
method that writes every byte would only be measured filling the page cache.
Each method runs BENCH_REPEAT times (default 3) per fraction, shutil once; the
medians count. The engine and cp should follow the data; shutil writes every
byte whatever the data are.

Environment: BENCH_DIR (data go to its data_fraction/ subdirectory),
BENCH_RESULTS, BENCH_REPEAT, BENCH_QUIET_WAIT.
"""

from __future__ import annotations

import os
import statistics
import time

from ansible_collections.hypervisor.images.plugins.module_utils import _sparse
from benchmarks import _common
from benchmarks._common import GiB, allocated, fsync, label, loadavg, remove, wait_for_quiet, warm
from benchmarks.sparse_copy import CP, CP_SPARSE, ENGINE, METHODS, QEMU, SHUTIL

APPARENT = 4 * GiB
EXTENTS = 16
FRACTIONS = (0.0, 1 / 16, 1 / 4, 1 / 2, 1.0)
COMPARED = (ENGINE, CP, CP_SPARSE, QEMU, SHUTIL)

REPEAT = int(os.environ.get('BENCH_REPEAT', '3'))
QUIET_WAIT = float(os.environ.get('BENCH_QUIET_WAIT', '600'))


def measure(src, dst, data):
    methods = [(name, method) for name, method in METHODS if name in COMPARED]
    runs = dict((name, {'seconds': [], 'allocated': None}) for name, dummy in methods)
    for repeat in range(REPEAT):
        for name, method in methods:
            if name == SHUTIL and repeat > 0:
                continue
            remove(dst)
            warm(src)
            started = time.monotonic()
            method(src, dst)
            fsync(dst)
            seconds = time.monotonic() - started
            runs[name]['seconds'].append(round(seconds, 4))
            runs[name]['allocated'] = allocated(dst)
            if repeat == 0 and (os.path.getsize(dst) != APPARENT or not _sparse.same_content(src, dst)):
                raise SystemExit('%s made a copy that differs from the source' % name)
            remove(dst)
    for entry in runs.values():
        entry['median'] = round(statistics.median(entry['seconds']), 4)
    print('  %-8s of data: %s' % (label(data) if data else '0 MiB', ', '.join(
        '%s %.2f s' % (name, runs[name]['median']) for name in COMPARED)), flush=True)
    return runs


def _rows(points, methods):
    """One row per fraction: the share of data, then each method's median time and allocated bytes."""
    return [['%g%%' % (point['fraction'] * 100)]
            + ['%.3f s, %.2f GiB' % (point['methods'][name]['median'], point['methods'][name]['allocated'] / GiB)
               for name in methods]
            for point in points]


def main():
    scratch = _common.data_dir('data_fraction')
    dst = os.path.join(scratch, 'copy.raw')
    load = {'before': wait_for_quiet(QUIET_WAIT)}
    points = []
    for fraction in FRACTIONS:
        data = int(APPARENT * fraction)
        src = os.path.join(scratch, 'source-%03d.raw' % round(fraction * 100))
        # A file all data is one extent however it was written: so it is found again on the next run.
        _common.make_sparse_file(src, APPARENT, data, EXTENTS if fraction < 1 else 1)
        points.append({'fraction': fraction, 'data_bytes': data, 'source_allocated': allocated(src),
                       'methods': measure(src, dst, data)})
    load['after'] = loadavg()
    _common.print_table('Copies of a 4 GiB raw image by the share that holds data (median time with fsync, allocated)',
                        ['data'] + list(COMPARED), _rows(points, COMPARED))
    path = _common.save(
        'data_fraction', {'points': points, 'methods': list(COMPARED)},
        machine=dict(_common.machine(scratch), **_common.tool_versions(['cp', '--version'], ['qemu-img', '--version'])),
        source={'apparent_size': APPARENT, 'extents': EXTENTS},
        protocol={'repeat': REPEAT, 'repeat_slow': 1, 'state': 'warm', 'load_average': load})
    print('\nSaved %s' % path)


def report(document, out):
    """The section of the performance page (benchmarks/report.py)."""
    results = document['results']
    points, methods = results['points'], results['methods']
    fractions = [point['fraction'] * 100 for point in points]
    fig, (times, sizes) = out.figure(ncols=2, size=(10.0, 4.4))
    # Several methods allocate the same: markers and dashes of their own keep overlapping lines visible.
    styles = (('o', '-', 9), ('s', '--', 7), ('^', '-.', 6), ('D', ':', 5), ('v', '-', 4))
    for name, (marker, line, size) in zip(methods, styles):
        times.plot(fractions, [point['methods'][name]['median'] for point in points], marker=marker, linestyle=line,
                   markersize=size, label=name)
        sizes.plot(fractions, [point['methods'][name]['allocated'] / GiB for point in points], marker=marker,
                   linestyle=line, markersize=size, label=name)
    times.set_xlabel('share of the 4 GiB image holding data (%)')
    times.set_ylabel('median copy time, fsync included (s)')
    times.set_title('Copy time', fontsize=10)
    times.legend(fontsize=7)
    sizes.set_xlabel('share of the 4 GiB image holding data (%)')
    sizes.set_ylabel('allocated bytes of the copy (GiB)')
    sizes.set_title('Space the copy takes', fontsize=10)
    sizes.legend(fontsize=7)
    figure = out.save(fig, 'data_fraction', document, 'Copy time and allocated bytes against the share of data',
                      'Copy time and allocated bytes of the copy against the share of the image that holds data.')
    engine = [point['methods'][ENGINE]['median'] / point['methods'][CP]['median'] for point in points
              if point['methods'][CP]['median'] > 0.05]
    return '\n'.join([
        'Copy time against the share of data', '------------------------------------', '',
        '``benchmarks/data_fraction.py``: raw images of %s apparent size holding from none to all of it in data, '
        'copied by each method (warm page cache, the time includes an fsync of the copy; median of %d runs, '
        'shutil once).'
        % (label(document.get('source', {}).get('apparent_size', APPARENT)),
           document.get('protocol', {}).get('repeat', REPEAT)),
        'The engine, ``cp`` and ``qemu-img convert`` follow the data and keep the holes; ``shutil.copyfile`` '
        'writes every byte whatever the image holds, and its time depends on how much of what it reads was in the '
        'page cache already (the data extents are, the holes it reads as zeros are not).%s'
        % (' The engine took %.2f to %.2f times as long as ``cp``.' % (min(engine), max(engine)) if engine else ''),
        '', out.load(document), '', figure, out.table(['data'] + methods, _rows(points, methods))])
