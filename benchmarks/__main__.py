# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m benchmarks [NAME...]: run every benchmark, or the named ones, then write the report.

python -m benchmarks --report-only: write the report (docs/docsite/rst/performance.rst and its
plots) from the results already saved, without running anything.
"""

from __future__ import annotations

import importlib
import os
import sys

# In the order of the performance page.
BENCHMARKS = ('sparse_copy', 'data_fraction', 'image_convert', 'noop', 'image_fetch', 'cache_prune', 'audit', 'fleet')


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
    report_only = '--report-only' in argv
    names = [arg for arg in argv if arg != '--report-only'] or ([] if report_only else list(BENCHMARKS))
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        sys.exit('Unknown benchmark(s): %s. Known: %s.' % (', '.join(unknown), ', '.join(BENCHMARKS)))
    _importable_collection()
    for name in names:
        importlib.import_module('benchmarks.%s' % name).main()
    importlib.import_module('benchmarks.report').write(BENCHMARKS)


if __name__ == '__main__':
    main(sys.argv[1:])
