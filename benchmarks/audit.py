# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bulk audit: BENCH_AUDIT_IMAGES images (default 1000) in one image_audit call against one qemu_image_info call each.

The tree holds small qcow2 overlays on one raw base, spread over instance
directories as Nova lays them out. Both ways run the modules as Ansible runs
them on a host (one Python process per call, without the controller), once
without and once with ``check`` (qemu-img check, read-only); the loop is what
an audit playbook with a loop over ``find`` results costs a host, before the
controller's own per-call work. Ratios are to the one call.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from benchmarks import _common

IMAGES = int(os.environ.get('BENCH_AUDIT_IMAGES', '1000'))
PER_DIR = 4


def build(root):
    if os.path.isdir(root):
        shutil.rmtree(root)
    base = os.path.join(root, '_base', 'base.raw')
    os.makedirs(os.path.dirname(base))
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'raw', base, '64M'], check=True)
    first = None
    paths = []
    for index in range(IMAGES - 1):
        directory = os.path.join(root, 'vm%04d' % (index // PER_DIR))
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, 'disk%d' % (index % PER_DIR))
        if first is None:
            subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', path], check=True)
            first = path
        else:
            shutil.copyfile(first, path)  # the same overlay header: qemu-img create 999 times adds nothing
        paths.append(path)
    return [base] + paths


def timed(function):
    start = time.monotonic()
    function()
    return round(time.monotonic() - start, 2)


def main():
    root = os.path.join(_common.data_dir('audit'), 'instances')
    paths = build(root)
    print('Audit: %d images under %s' % (len(paths), root), flush=True)
    rows = []
    results = {}
    for check in (False, True):
        one = timed(lambda: _common.run_module('image_audit', {'path': root, 'check': check}))
        loop = timed(lambda: [_common.run_module('qemu_image_info', {'path': path, 'check': check}) for path in paths])
        key = 'with_check' if check else 'without_check'
        results[key] = {'one_call_s': one, 'per_image_calls_s': loop, 'ratio': round(loop / one, 1)}
        rows.append(['with check' if check else 'without check', one, loop, results[key]['ratio']])
        line = '  %-13s one call %6.2f s   %d calls %7.2f s   ratio %.1f' % (
            rows[-1][0], one, len(paths), loop, results[key]['ratio'])
        print(line, flush=True)
    results['images'] = len(paths)
    _common.print_table('image_audit against qemu_image_info per image', HEADER, rows)
    path = _common.save('audit', results, machine=_common.machine(root),
                        protocol={'images': len(paths), 'layout': 'one raw base, qcow2 overlays on it, %d per '
                                  'instance directory' % PER_DIR, 'load_average': _common.loadavg()})
    print('\nSaved %s' % path)


HEADER = ('audit', 'image_audit, one call (s)', 'qemu_image_info, one call per image (s)', 'ratio')


def report(document, out):
    """The section of the performance page (benchmarks/report.py)."""
    results = document['results']
    rows = [[label, results[key]['one_call_s'], results[key]['per_image_calls_s'], results[key]['ratio']]
            for key, label in (('without_check', 'without check'), ('with_check', 'with check'))]
    return '\n'.join([
        'Bulk audit', '----------', '',
        '``benchmarks/audit.py``: ``hypervisor.images.image_audit`` on %d images (qcow2 overlays on one raw base) in '
        'one call, against ``hypervisor.images.qemu_image_info`` called once per image as a loop over ``find`` '
        'results would, both run as Ansible runs modules on a host (the controller\'s own work per call comes on '
        'top of the loop).' % results['images'],
        '', out.load(document), '', out.table(HEADER, rows)])
