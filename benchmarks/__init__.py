# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ratio benchmarks against the tools underneath: python -m benchmarks [NAME ...] (make bench)."""
