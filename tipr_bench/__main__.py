"""`python -m tipr_bench` is the `tipr-bench` command."""

from tipr_bench.cli import main

main()
