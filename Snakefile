"""iLOCO: regenerates every number, figure and the paper from code and config.

    ./repro paper                                   # quick scale -> paper/main.pdf
    ./repro paper --configfile config/paper.yaml    # paper scale
"""

import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from iloco.config import config_hash, validate
from iloco.errors import IlocoError

try:
    validate(config)
except IlocoError as err:
    sys.exit(f"iloco: error: {err}")


include: "workflow/rules/sp1.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/bench.smk"


rule all:
    default_target: True
    input:
        "paper/main.pdf",
