# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How fast image_cache_prune scans the users of a cache, and how much it reads per file.

10,000 qcow2 overlays (BENCH_OVERLAYS) on 20 bases, spread over instance
directories as Nova lays them out, are made once in BENCH_DIR/cache_prune
(copies of one overlay made by qemu-img, so every header is real). The
module then runs in check mode (it plans without removing anything) a few
times; the scan rate is files per second of wall time, and the bytes read per
file come from the scan itself. For scale: `find -type f -exec head -c 4096 {} +`
over the same tree, the least any scan that opens every file can do.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time

from ansible_collections.hypervisor.images.plugins.module_utils._cache import Scan
from benchmarks import _common

OVERLAYS = int(os.environ.get('BENCH_OVERLAYS', '10000'))
BASES = 20
ROUNDS = 3


def make_tree(root):
    base_dir = os.path.join(root, '_base')
    marker = os.path.join(root, '.complete-%d' % OVERLAYS)
    if os.path.exists(marker):
        return base_dir
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(base_dir)
    template_dir = os.path.join(root, '.templates')  # at the depth of an instance directory
    os.makedirs(template_dir)
    print('Making %d overlays on %d bases under %s' % (OVERLAYS, BASES, root), flush=True)
    templates = []
    for number in range(BASES):
        base = os.path.join(base_dir, 'base-%02d' % number)
        _common.run(['qemu-img', 'create', '-q', '-f', 'raw', base, '1G'])
        template = os.path.join(template_dir, 'disk-%02d' % number)
        _common.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', '../_base/base-%02d' % number, '-F', 'raw',
                     template])
        templates.append(template)
    for number in range(OVERLAYS):
        directory = os.path.join(root, 'instance-%05d' % number)
        os.mkdir(directory)
        shutil.copyfile(templates[number % BASES], os.path.join(directory, 'disk'))
    shutil.rmtree(template_dir)
    open(marker, 'w').close()
    return base_dir


def scan_rate(root, base_dir):
    times, scanned, result = [], None, None
    for dummy in range(ROUNDS):
        _common.drop_caches()
        seconds, result = _common.run_module('image_cache_prune', {'path': base_dir, '_ansible_check_mode': True})
        if result.get('failed'):
            raise RuntimeError(result.get('msg'))
        times.append(seconds)
        scanned = result['files_scanned']
    scan = Scan().walk([root])
    return {'files': scanned, 'median_s': round(statistics.median(times), 3),
            'files_per_second': round(scanned / statistics.median(times)),
            'bytes_read_per_file': round(scan.bytes_read / scan.files), 'kept_in_use': len(result['kept_in_use'])}


def warm_rate(base_dir):
    times = []
    for dummy in range(ROUNDS):
        seconds, result = _common.run_module('image_cache_prune', {'path': base_dir, '_ansible_check_mode': True})
        times.append(seconds)
    return round(statistics.median(times), 3)


def head_rate(root):
    times = []
    for dummy in range(ROUNDS):
        _common.drop_caches()
        start = time.monotonic()
        subprocess.run(['find', root, '-type', 'f', '-exec', 'head', '-q', '-c', '4096', '{}', '+'],
                       check=True, stdout=subprocess.DEVNULL)
        times.append(time.monotonic() - start)
    return round(statistics.median(times), 3)


def main():
    root = _common.data_dir('cache_prune')
    base_dir = make_tree(root)
    load = {'before': _common.loadavg()}
    results = scan_rate(root, base_dir)
    results['find_head_s'] = head_rate(root)
    results['module_over_find_head'] = round(results['median_s'] / results['find_head_s'], 2)
    results['warm_median_s'] = warm_rate(base_dir)
    _common.print_table('image_cache_prune scan of %d overlays (check mode, cold cache)' % OVERLAYS, ('measure', 'value'), [
        ('files scanned', results['files']),
        ('wall time (median of %d)' % ROUNDS, '%.3f s' % results['median_s']),
        ('**files per second**', '**%d**' % results['files_per_second']),
        ('**bytes read per file**', '**%d**' % results['bytes_read_per_file']),
        ('find -exec head -c 4096 over the same tree', '%.3f s' % results['find_head_s']),
        ('module / find+head', '%.2f' % results['module_over_find_head']),
        ('wall time with the files in the page cache', '%.3f s' % results['warm_median_s']),
    ])
    load['after'] = _common.loadavg()
    print('\nsaved %s' % _common.save('cache_prune', results, protocol={'load_average': load}))


def report(document, out):
    """The section of the performance page (benchmarks/report.py)."""
    result = document['results']
    fig, (axis,) = out.figure(size=(9.0, 3.4))
    labels = ['find -exec head -c 4096 (cold cache)', 'image_cache_prune, check mode (cold cache)',
              'image_cache_prune, check mode (warm cache)']
    values = [result['find_head_s'], result['median_s'], result['warm_median_s']]
    out.seconds_bars(axis, labels, values, ['#777777', '#1f77b4', '#aec7e8'])
    axis.set_title('scan of %d files (overlays on 20 bases)\n%d files per second, %d bytes read per file'
                   % (result['files'], result['files_per_second'], result['bytes_read_per_file']), fontsize=9)
    figure = out.save(fig, 'cache_prune', document, 'image_cache_prune scan rate',
                      'The scan reads the first 4 KiB of every file under the users\' directories and follows each '
                      'backing chain in pure Python; no qemu-img runs. The module\'s start-up is included.')
    rows = [['files scanned', result['files']],
            ['wall time, cold cache', '%.3f s' % result['median_s']],
            ['**files per second**, cold cache', '**%d**' % result['files_per_second']],
            ['**bytes read per file**', '**%d**' % result['bytes_read_per_file']],
            ['wall time, warm cache', '%.3f s' % result['warm_median_s']],
            ['``find -exec head -c 4096`` over the same tree, cold cache', '%.3f s' % result['find_head_s']],
            ['module / find + head', '%.2f' % result['module_over_find_head']]]
    return '\n'.join([
        'Pruning the image cache', '-----------------------', '',
        '``benchmarks/cache_prune.py``: how fast ``hypervisor.images.image_cache_prune`` finds the users of a cache '
        'among %d instance directories, and how much it reads to do so.' % (result['files'] - 20), '', out.load(document), '', figure,
        out.table(['measure', 'value'], rows)])
