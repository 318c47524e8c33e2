"""Large runs: blocks of regions with bounded memory, on one process or on a Dask cluster.

The statistics of a Monte Carlo estimate (mean and exact percentiles of every output cell) need
every sample of a cell at once. :func:`urbanmine.estimate.run` holds, for the regions it is
given, every sample of every cell of one product (float32) plus a running per-sample total of
the products, so its peak memory grows with regions x samples. :func:`run_blocked` splits the
asked regions into blocks whose samples fit a memory budget and runs the blocks one after the
other. On a Dask cluster (``dask.distributed``: a ``LocalCluster`` or a running scheduler) the
samples of each block are computed as tasks, a chunk of samples each, on the workers, and sent
back for the statistics: a sample's numbers do not depend on where or with which other samples
it is computed, and the blocks are the same whatever the scheduler, so the output is
byte-identical with and without Dask. Each block models the countries its regions need with
the draws those countries get in any run (draws are made for every country and then selected).

Memory of one block with R regions, S samples, P products (plus their sum), E output elements,
Y output years and L labels (scenarios and differences), in bytes::

    4 x S x R x E x Y x (8 x L + 8 x n_scenarios + 8 x [n_scenarios > 1])   (P > 1; see :func:`block_bytes`)

plus the model's own arrays for one block of samples (capped near 256 MB) and, per thread of the
Monte Carlo kernel, the arrays of one chunk of 32 samples (about 2 MB per sample with every
country).
"""

from __future__ import annotations

import functools

import numpy as np

from .errors import InputDataError

__all__ = ["DEFAULT_MAX_MEMORY", "block_bytes", "region_blocks", "run_blocked", "parse_scheduler"]

DEFAULT_MAX_MEMORY = 2 << 30
"""Default budget [bytes] for the samples of one block of regions (2 GiB)."""


def block_bytes(n_regions, samples, n_elements, n_years, n_scenarios, n_products) -> int:
    """Peak bytes of the sample stores of one block (see the module docstring).

    One product's store ``[labels, cells, samples]`` float32; with several products the running
    total of the products ``[scenarios, regions, elements, 7 flow stages, years, samples]``, its
    secondary share and, with several scenarios, one difference of the totals at a time.
    """
    n_labels = 2 * n_scenarios - 1
    cells = n_regions * n_elements * 8 * n_years
    store = n_labels * cells * samples * 4
    total = 0
    if n_products > 1:
        flows = n_regions * n_elements * 7 * n_years * samples * 4
        share = n_regions * n_elements * n_years * samples * 4
        total = n_scenarios * (flows + share) + (flows + share if n_scenarios > 1 else 0)
    return int(store + total)


def region_blocks(regions, samples, n_elements, n_years, n_scenarios, n_products, max_memory) -> list[list[str]]:
    """Consecutive blocks of ``regions`` whose sample stores fit ``max_memory`` [bytes] (at least
    one region per block)."""
    if not samples:
        return [list(regions)]
    per_region = block_bytes(1, samples, n_elements, n_years, n_scenarios, n_products)
    per_block = max(1, int(max_memory // max(per_region, 1)))
    return [list(regions[i:i + per_block]) for i in range(0, len(regions), per_block)]


def parse_scheduler(text: str):
    """``local`` or ``local:N`` (a LocalCluster with N worker processes, default: the cores) or
    ``tcp://HOST:PORT`` (a running scheduler) -> ``("local", N)`` or ``("address", text)``."""
    if text.startswith("local"):
        rest = text[len("local"):]
        if rest == "":
            return "local", None
        if rest.startswith(":") and rest[1:].isdigit() and int(rest[1:]) >= 1:
            return "local", int(rest[1:])
    elif text.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        return "address", text
    raise InputDataError(f"--scheduler {text!r}: expected local, local:N (N worker processes) or the address "
                         "of a running Dask scheduler (tcp://HOST:PORT)")


def _client(scheduler: str):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputDataError("--scheduler needs Dask: pip install 'urbanmine[dask]' (dask[distributed])") from None
    kind, arg = parse_scheduler(scheduler)
    if kind == "local":
        import os

        n = arg or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(cluster), cluster
    return Client(arg), None


@functools.lru_cache(maxsize=4)
def _worker_inputs(profiles, data, model, regions_file):
    from .estimate import load_inputs

    return load_inputs(profiles, data, model, regions_file)


_SETUP: dict = {}


def _worker_setup(spec: dict, block: tuple):
    """A worker's inputs, scenarios and prepared products for one block of regions (kept for the
    block's further tasks)."""
    from .estimate import _setup

    key = (block, spec["samples"], spec["seed"], tuple(spec["products"]), tuple(spec["scenarios"]))
    if key not in _SETUP:
        _SETUP.clear()
        inputs = _worker_inputs(spec["profiles"], spec["data"], spec["model"], spec["regions_file"])
        scenarios = [inputs.scenario(n, spec["demand"]) for n in spec["scenarios"]]
        prepared, args, _, _ = _setup(inputs, scenarios, spec["products"], list(block), spec["elements"],
                                      spec["years"], spec["samples"], spec["seed"])
        _SETUP[key] = (inputs, scenarios, prepared, args)
    return _SETUP[key]


def _sample_task(spec: dict, block: tuple, product: str, start: int, stop: int):
    """One task: the flows of one product for samples ``start:stop`` of one block of regions."""
    from .estimate import sample_flows

    inputs, scenarios, prepared, args = _worker_setup(spec, block)
    # one thread per task: the cluster runs tasks side by side
    return sample_flows(inputs, prepared, product, scenarios, args, spec["inflow_at"], start, stop, stop - start,
                        threads=1)


def run_blocked(inputs, scenarios, products, regions, elements, out_years, *, samples=0, seed=None,
                inflow_at="middle", chunk_size=1000, progress=None, max_memory=DEFAULT_MAX_MEMORY,
                scheduler=None, spec=None) -> dict:
    """:func:`urbanmine.estimate.run` over blocks of regions (see the module docstring).

    ``scheduler`` (``local[:N]`` or ``tcp://HOST:PORT``) runs the blocks as Dask tasks; the workers
    read the inputs from the files named in ``spec`` (``profiles``, ``data``, ``model``,
    ``regions_file``, ``scenarios``, ``demand``), which must be reachable from them.
    """
    from .estimate import STAT_COLUMNS, run

    blocks = region_blocks(list(regions), samples, len(elements), len(out_years), len(scenarios),
                           len(products), max_memory)
    if scheduler is None:
        results = []
        for block in blocks:
            step = None if progress is None else (lambda k: progress(k / len(blocks)))
            results.append(run(inputs, scenarios, products, block, elements, out_years, samples=samples,
                               seed=seed, inflow_at=inflow_at, chunk_size=chunk_size, progress=step))
    else:
        # the central run and the statistics stay here; blocks of samples are tasks on the workers
        # (every sample's numbers do not depend on where it is computed: the same bytes)
        if spec is None:
            raise InputDataError("a Dask run needs the input files (spec)")
        spec = {**spec, "products": list(products), "elements": list(elements), "years": list(out_years),
                "samples": samples, "seed": seed, "inflow_at": inflow_at}
        client, cluster = _client(scheduler)
        results = []
        try:
            for block in blocks:
                def mapper(product, ranges, block=tuple(block)):
                    futures = [client.submit(_sample_task, spec, block, product, a, b, pure=False)
                               for a, b in ranges]
                    for (a, b), fut in zip(ranges, futures):
                        flows = fut.result()
                        fut.release()
                        if progress is not None:
                            progress((b - a) / len(products) / len(blocks))
                        yield flows

                results.append(run(inputs, scenarios, products, block, elements, out_years, samples=samples,
                                   seed=seed, inflow_at=inflow_at, chunk_size=chunk_size, sample_map=mapper))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    if len(results) == 1:
        return results[0]
    out = dict(results[0])
    out["regions"] = [r for res in results for r in res["regions"]]
    for key in ("central", *STAT_COLUMNS):
        if key in out:
            out[key] = np.concatenate([res[key] for res in results], axis=2)
    return out
