"""`make bench`: python bench/run_bench.py [--quick] [...]; the harness is in bench/main.py.

A script path puts bench/ itself on sys.path, not the repository: the repository goes first,
so `bench` imports as the package it is (python -m bench.run_bench works the same).
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.main import main

    sys.exit(main())
