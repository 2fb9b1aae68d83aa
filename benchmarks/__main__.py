# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the benchmarks named on the command line, or all of them; print tables and save JSON."""

from __future__ import annotations

import importlib
import os
import sys

from benchmarks import _common

BENCHMARKS = ('image_convert',)


def main(argv):
    names = argv or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        sys.exit('Unknown benchmark(s) %s; known: %s' % (', '.join(unknown), ', '.join(BENCHMARKS)))
    os.makedirs(_common.DATA_DIR, exist_ok=True)
    for name in names:
        module = importlib.import_module('benchmarks.%s' % name)
        results = module.run(_common.DATA_DIR)
        print('\nsaved %s' % _common.save(name, results))


if __name__ == '__main__':
    main(sys.argv[1:])
