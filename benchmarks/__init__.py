"""Benchmark-only code kept out of the installed ``sim`` package.

``benchmarks.graphs`` builds the seeded county-like road graphs that ``ruralsim benchmark
--matrices`` and the network tests time and check. The folder is in a checkout of the
repository, not in the wheel; :func:`sim._checkout.bench_graphs` finds it from the CLI.
"""
