# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m benchmarks [NAME...]: run every benchmark, or the named ones."""

from __future__ import annotations

import importlib
import os
import sys

BENCHMARKS = ('image_convert', 'image_fetch', 'sparse_copy', 'cache_prune')


def _importable_collection():
    """Put the directory that holds ansible_collections/ on sys.path (the staged layout)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = root.split(os.sep)
    if parts[-3:] != ['ansible_collections', 'hypervisor', 'images']:
        sys.exit('Run the benchmarks from the staged collection (.../ansible_collections/hypervisor/images): make bench')
    base = os.sep.join(parts[:-3]) or os.sep
    if base not in sys.path:
        sys.path.insert(0, base)


def main(argv):
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        sys.exit('Unknown benchmark(s): %s. Known: %s.' % (', '.join(unknown), ', '.join(BENCHMARKS)))
    _importable_collection()
    for name in names:
        importlib.import_module('benchmarks.%s' % name).main()


if __name__ == '__main__':
    main(sys.argv[1:])
