# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ratio benchmarks of the collection's engines against the tools underneath.

Run them with ``make bench`` (all) or ``make bench BENCH=sparse_copy`` (some),
which stages the collection and runs ``python -m benchmarks`` in the staged
copy. Each benchmark prints a Markdown table and saves its figures as JSON in
``benchmarks/results/`` of the checkout. Data files go to ``BENCH_DIR``
(default ``/var/tmp/hypervisor-images-bench``), on the machine's own disk.
Compare ratios within one run; absolute times vary between machines.
"""
