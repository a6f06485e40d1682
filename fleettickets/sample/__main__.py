"""python -m fleettickets.sample DIR: both datasets' default streams into DIR/<dataset>/."""

import sys
from pathlib import Path

from fleettickets.sample import write_stream

for _dataset in ("inc", "crq"):
    write_stream(_dataset, Path(sys.argv[1]) / _dataset)
