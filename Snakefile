"""iLOCO: regenerates every number, figure and the paper from code and config.

./repro paper                                   # quick scale -> paper/main.pdf
./repro paper --configfile config/paper.yaml    # paper scale
"""

import fnmatch
import json
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The default config only when no --configfile is given: a given config replaces it whole
# (Snakemake would otherwise fill the keys a config forgets from the quick scale's).
if not workflow.config_settings.configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
ENV = "../../envs/iloco.yaml"  # conda env of every rule (path relative to workflow/rules/)
# Jobs run `python -m iloco`: the package from src/; outside conda, the Python that runs
# Snakemake (the venv's), whether or not the venv is activated.
_conda = "CONDA" in str(workflow.deployment_settings.deployment_method).upper()
_bin = "" if _conda else str(Path(sys.executable).parent) + ":"
# (Snakemake formats the prefix like a shell command: braces are doubled.)
shell.prefix(
    'export PATH="'
    + _bin
    + '$PATH" PYTHONPATH="'
    + SRC
    + '${{PYTHONPATH:+:$PYTHONPATH}}"; '
)

from iloco.core.config import read, validate
from iloco.core.errors import IlocoError

try:
    for _file in workflow.config_settings.configfiles:
        read(_file)  # strict: a key given twice (Snakemake keeps the last silently)
    # device: cuda needs a GPU here, unless the jobs run elsewhere (cluster executor)
    validate(config, device=workflow.local_exec and workflow.is_main_process)
except IlocoError as err:
    sys.exit(f"iloco: error: {err}")


include: "workflow/rules/common.smk"
include: "workflow/rules/sp1.smk"
include: "workflow/rules/sp2.smk"
include: "workflow/rules/sp3.smk"
include: "workflow/rules/id1.smk"
include: "workflow/rules/id2.smk"
include: "workflow/rules/id3.smk"
include: "workflow/rules/nl1.smk"
include: "workflow/rules/nl2.smk"
include: "workflow/rules/lr.smk"
include: "workflow/rules/jobs.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/archive.smk"
include: "workflow/rules/bench.smk"


rule all:
    default_target: True
    input:
        "paper/main.pdf",
        # every output of the build: a deleted figure, table or intermediate file is rebuilt
        lambda wc: build_outputs(),
