"""The AI emissions disclosures pipeline."""

import os

# pyarrow's default allocator (jemalloc) keeps freed memory in per-thread arenas: a release of 5,000 cards held
# ~75 MB more at its peak than with the system allocator, at the same speed (benchmarks/RESULTS.md). Read when
# pyarrow is first imported, so it is set before anything here imports it; an explicit setting wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
