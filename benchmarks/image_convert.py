# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""image_convert against bare qemu-img convert, as ratios measured in one run.

Overhead: a 4 GiB raw image holding 1 GiB of data, converted to qcow2 by the
module (force: true, so it converts every time) and by qemu-img with the same
flags (-t none), each into a path that does not exist yet. The module's start-up (Python, imports, argument parsing;
measured as a run that fails at once on a bad option) is subtracted.
Target: module / bare <= 1.05. (No-op re-runs are the noop benchmark's.)

Runs are interleaved and the median of several is used; the source is read
once beforehand so every run finds it in the page cache.
"""

from __future__ import annotations

import os
import statistics

from benchmarks import _common
from benchmarks._common import GiB, make_sparse_file, remove, run_module, timed, warm

ROUNDS = 7


def overhead(workdir):
    src = os.path.join(workdir, 'convert-4g.raw')
    make_sparse_file(src, 4 * GiB, 1 * GiB)
    warm(src)
    bare_dest = os.path.join(workdir, 'bare.qcow2')
    module_dest = os.path.join(workdir, 'module.qcow2')
    bare, module, startup = [], [], []
    for dummy in range(ROUNDS):
        # Both start without a destination: freeing the blocks of an old one is not what is measured.
        remove(bare_dest, module_dest)
        os.sync()
        bare.append(timed(['qemu-img', 'convert', '-q', '-f', 'raw', '-O', 'qcow2', '-t', 'none', src, bare_dest]))
        args = {'src': src, 'src_format': 'raw', 'dest': module_dest, 'dest_format': 'qcow2', 'cache_mode': 'none',
                'force': True}
        seconds, result = run_module('image_convert', args)
        if result.get('failed'):
            raise RuntimeError(result.get('msg'))
        module.append(seconds)
        bad = {'src': src, 'dest': module_dest, 'dest_format': 'qcow2', 'parallel': 99}
        seconds, result = run_module('image_convert', bad)
        assert result.get('failed'), 'the start-up probe must fail at argument checking'
        startup.append(seconds)
    remove(bare_dest, module_dest)
    b, m, s = statistics.median(bare), statistics.median(module), statistics.median(startup)
    return {'bare_qemu_img_s': round(b, 3), 'module_s': round(m, 3), 'module_startup_s': round(s, 3),
            'ratio': round((m - s) / b, 3), 'target': '<= 1.05', 'rounds': ROUNDS}


def run(workdir):
    results = {'overhead': overhead(workdir)}
    rows = [
        ('bare qemu-img convert, 4 GiB raw (1 GiB data) to qcow2, -t none', '%.3f s' % results['overhead']['bare_qemu_img_s']),
        ('image_convert, same conversion (force: true)', '%.3f s' % results['overhead']['module_s']),
        ('image_convert start-up (subtracted)', '%.3f s' % results['overhead']['module_startup_s']),
        ('**overhead ratio** (module - start-up) / bare, target <= 1.05', '**%.3f**' % results['overhead']['ratio']),
    ]
    _common.print_table('image_convert vs qemu-img convert', ('measure', 'value'), rows)
    return results


def main():
    load = {'before': _common.loadavg()}
    results = run(_common.data_dir('image_convert'))
    load['after'] = _common.loadavg()
    print('\nsaved %s' % _common.save('image_convert', results, protocol={'load_average': load}))


def report(document, out):
    """The section of the performance page (benchmarks/report.py)."""
    result = document['results']['overhead']
    fig, (axis,) = out.figure(size=(7.5, 3.6))
    labels = ['bare qemu-img convert', 'image_convert minus start-up', 'image_convert (with start-up)']
    values = [result['bare_qemu_img_s'], result['module_s'] - result['module_startup_s'], result['module_s']]
    out.seconds_bars(axis, labels, values, ['#777777', '#1f77b4', '#aec7e8'], room=1.15)
    axis.set_title('4 GiB raw (1 GiB of data) to qcow2, -t none\noverhead ratio %.3f (target %s)'
                   % (result['ratio'], result['target']), fontsize=10)
    figure = out.save(fig, 'image_convert', document, 'image_convert against bare qemu-img convert',
                      'The module against bare qemu-img on the same conversion; the module\'s start-up '
                      '(Python, imports, argument parsing) is measured apart and subtracted.')
    rows = [['bare ``qemu-img convert``', '%.3f s' % result['bare_qemu_img_s']],
            ['``image_convert`` (``force: true``)', '%.3f s' % result['module_s']],
            ['``image_convert`` start-up', '%.3f s' % result['module_startup_s']],
            ['overhead ratio (module - start-up) / bare, target %s' % result['target'], '**%.3f**' % result['ratio']]]
    return '\n'.join([
        'Conversion overhead', '-------------------', '',
        '``benchmarks/image_convert.py``: what ``hypervisor.images.image_convert`` adds to the ``qemu-img convert`` '
        'it runs (the O_DIRECT probe, the free-space check, the temporary file, fsync and rename, the record), '
        'median of %d interleaved runs.' % result['rounds'], '', out.load(document), '', figure, out.table(['measure', 'value'], rows)])
