# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paths and output shared by the benchmarks."""

from __future__ import annotations

import json
import os
import platform
import time

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The directory that holds ansible_collections/ (the collection is staged there by make).
COLLECTIONS_PATH = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
# Benchmark data is big: keep it on the machine's own disk, outside the checkout.
DATA_DIR = os.environ.get('BENCH_DIR', '/var/tmp/hypervisor-images-bench')
# Results are kept in the project (make passes the checkout's benchmarks/results).
RESULTS_DIR = os.environ.get('BENCH_RESULTS', os.path.join(COLLECTION_ROOT, 'benchmarks', 'results'))


def print_table(title, header, rows):
    print('\n### %s\n' % title)
    print('| %s |' % ' | '.join(header))
    print('|%s|' % '|'.join('---' for dummy in header))
    for row in rows:
        print('| %s |' % ' | '.join(str(cell) for cell in row))


def save(name, results):
    os.makedirs(RESULTS_DIR, exist_ok=True)
    document = {
        'benchmark': name,
        'date': time.strftime('%Y-%m-%d'),
        'machine': {'cpus': os.cpu_count(), 'kernel': platform.release(), 'python': platform.python_version()},
        'results': results,
    }
    path = os.path.join(RESULTS_DIR, '%s.json' % name)
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.write('\n')
    return path
