"""The product's entry points, above everything else: the `vigil` command line, the runs it
starts and the exports it writes. Nothing below (orchestration, billing, connectors, the
platform in `vigil/`) imports this package."""
