"""``ruralsim geodata``: show, check, fetch and import a county's geodata."""

from __future__ import annotations

import argparse

from sim._cli_args import positive


def geodata_command(args: argparse.Namespace) -> int:
    """``ruralsim geodata show|check|fetch|import``."""
    if args.geodata_command == "show":
        from sim.geodata import describe

        print(describe(args.code, cache_dir=args.cache_dir))
    elif args.geodata_command == "check":
        from sim.geodata.check import check_report

        positive("--seed", args.seed, allow_zero=True)
        print(
            check_report(args.code, cache_dir=args.cache_dir, seed=args.seed, terrain=args.terrain)
        )
    elif args.geodata_command == "fetch":
        from sim.geodata import resolve_region
        from sim.geodata.osm import fetch_county

        positive("--buffer-m", args.buffer_m, allow_zero=True)
        positive("--timeout", args.timeout)
        positive("--retries", args.retries)
        for code in resolve_region(args.code):
            data = fetch_county(
                code,
                cache_dir=args.cache_dir,
                overpass_url=args.overpass_url,
                buffer_m=args.buffer_m,
                timeout_s=args.timeout,
                retries=args.retries,
                force=args.force,
            )
            print(
                f"{code}: {data.graph.number_of_nodes():,} nodes, "
                f"{data.graph.number_of_edges():,} edges, {len(data.places):,} places "
                f"(fetched {str(data.meta.get('fetched', ''))[:10]})"
            )
    elif args.geodata_command == "import":
        from tqdm import tqdm

        from sim.geodata.extract import import_extract

        positive("--buffer-m", args.buffer_m, allow_zero=True)
        with tqdm(unit="county", desc="import", disable=None, leave=False) as bar:
            done = import_extract(
                args.file,
                region=args.counties,
                cache_dir=args.cache_dir,
                buffer_m=args.buffer_m,
                progress=lambda *a, **k: bar.update(1),
            )
        for data in done:
            print(
                f"{data.code}: {data.graph.number_of_nodes():,} nodes, "
                f"{data.graph.number_of_edges():,} edges, {len(data.places):,} places"
            )
        print(f"{len(done)} counties cached from {args.file}")
    return 0
