# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No-op re-runs against image size: a re-run with nothing to do must not read image data.

Raw images of 1, 2, 4 and 8 GiB, a quarter of each written with data (16
extents), are converted to qcow2 by image_convert and copied by sparse_copy
once; then both modules run again on them ROUNDS times (interleaved, medians
count). Deciding that there is nothing to do reads the record on the
destination and the source's metadata, so the re-run takes the same time
whatever the size: the line should be flat. Target: 8 GiB / 1 GiB <= 1.1 for
each module. The destinations are removed at the end; the sources are kept
for the next run.

Environment: BENCH_DIR (data go to its noop/ subdirectory), BENCH_RESULTS.
"""

from __future__ import annotations

import os
import statistics

from benchmarks import _common
from benchmarks._common import GiB, make_sparse_file, remove, run_module

ROUNDS = 7
SIZES_GIB = (1, 2, 4, 8)
TARGET = 1.1
MODULES = {
    'image_convert': lambda src, dest: {'src': src, 'src_format': 'raw', 'dest': dest, 'dest_format': 'qcow2'},
    'sparse_copy': lambda src, dest: {'src': src, 'dest': dest},
}


def paths(workdir, size, module):
    src = os.path.join(workdir, 'noop-%dg.raw' % size)
    return src, os.path.join(workdir, 'noop-%dg.%s' % (size, 'qcow2' if module == 'image_convert' else 'copy.raw'))


def run(workdir):
    for size in SIZES_GIB:
        make_sparse_file(paths(workdir, size, None)[0], size * GiB, size * GiB // 4)
    times = dict((module, dict((size, []) for size in SIZES_GIB)) for module in MODULES)
    for module, args in MODULES.items():
        for size in SIZES_GIB:
            dummy, result = run_module(module, args(*paths(workdir, size, module)))
            if result.get('failed'):
                raise RuntimeError(result.get('msg'))
    for dummy in range(ROUNDS):
        for module, args in MODULES.items():
            for size in SIZES_GIB:
                seconds, result = run_module(module, args(*paths(workdir, size, module)))
                assert not result.get('changed') and not result.get('failed'), result
                times[module][size].append(round(seconds, 4))
    results = {}
    for module in MODULES:
        medians = dict((size, round(statistics.median(times[module][size]), 4)) for size in SIZES_GIB)
        results[module] = {
            'sizes_gib': list(SIZES_GIB), 'seconds': dict((str(size), times[module][size]) for size in SIZES_GIB),
            'median_s': dict((str(size), medians[size]) for size in SIZES_GIB),
            'ratio': round(medians[SIZES_GIB[-1]] / medians[SIZES_GIB[0]], 3), 'target': '<= %g' % TARGET}
    for module in MODULES:
        for size in SIZES_GIB:
            remove(paths(workdir, size, module)[1])
    return results


def main():
    workdir = _common.data_dir('noop')
    load = {'before': _common.loadavg()}
    results = run(workdir)
    load['after'] = _common.loadavg()
    rows = [[module] + ['%.3f' % results[module]['median_s'][str(size)] for size in SIZES_GIB]
            + ['**%.3f**' % results[module]['ratio']] for module in MODULES]
    _common.print_table('No-op re-runs (median seconds) by image size; a quarter of each image holds data',
                        ['module'] + ['%d GiB' % size for size in SIZES_GIB]
                        + ['%d GiB / %d GiB (target <= %g)' % (SIZES_GIB[-1], SIZES_GIB[0], TARGET)], rows)
    protocol = {'rounds': ROUNDS, 'data_share': 0.25, 'load_average': load}
    print('\nSaved %s' % _common.save('noop', results, protocol=protocol))


def report(document, out):
    """The section of the performance page (benchmarks/report.py)."""
    results = document['results']
    fig, (axis,) = out.figure(size=(7.0, 3.8))
    rows = []
    for module in sorted(results):
        entry = results[module]
        sizes = entry['sizes_gib']
        medians = [entry['median_s'][str(size)] for size in sizes]
        axis.plot(sizes, medians, marker='o', label='%s (%d GiB / %d GiB: %.3f)'
                  % (module, sizes[-1], sizes[0], entry['ratio']))
        rows.append(['``%s``' % module] + ['%.3f' % median for median in medians] + ['**%.3f**' % entry['ratio']])
    axis.set_ylim(bottom=0, top=max(max(entry['median_s'].values()) for entry in results.values()) * 2)
    axis.set_xticks(sizes)
    axis.set_xlabel('image size (GiB; a quarter of it data)')
    axis.set_ylabel('median no-op re-run (s)')
    axis.set_title('A re-run with nothing to do reads no image data: a flat line', fontsize=10)
    axis.legend(fontsize=8, loc='lower right')
    figure = out.save(fig, 'noop', document, 'No-op re-run time against image size',
                      'Time of a re-run with nothing to do against the size of the image: flat, since only metadata '
                      'and the record on the destination are read.')
    return '\n'.join([
        'No-op re-runs', '-------------', '',
        '``benchmarks/noop.py``: ``image_convert`` and ``sparse_copy`` run again on images they already produced; '
        'median of %d interleaved rounds, target %s for the largest / smallest size.'
        % (document.get('protocol', {}).get('rounds', ROUNDS), results[sorted(results)[0]]['target']), '', out.load(document), '', figure,
        out.table(['module'] + ['%d GiB (s)' % size for size in sizes] + ['%d / %d GiB' % (sizes[-1], sizes[0])],
                  rows)])
