"""Environment settings that BAT's own processes start with (each is read once, at start-up).

Both were measured on the 2-core reference machine (benchmarks/):

- glibc malloc: without these thresholds a training process re-faults about 9,000 pages every
  step, and training is 1.2-1.5x slower.
- numpy transparent huge pages: with the kernel's THP defrag set to `madvise`, the first touch
  of a large numpy array stalls on memory compaction. Building the dense [users, lookback,
  channels] tensor at 10M events took 0.45-0.55 s with them and 0.12 s without; training
  throughput is the same either way (bench_training.py).
"""

from __future__ import annotations

import os

ALLOCATOR_ENV = {"MALLOC_TRIM_THRESHOLD_": "17179869184", "MALLOC_MMAP_THRESHOLD_": "33554432"}
NUMPY_ENV = {"NUMPY_MADVISE_HUGEPAGE": "0"}
PROCESS_ENV = {**ALLOCATOR_ENV, **NUMPY_ENV}


def is_set(settings: dict[str, str] = PROCESS_ENV) -> bool:
    """Whether this process already started with `settings`."""
    return all(os.environ.get(k) == v for k, v in settings.items())
