# What the rules share: the families' declarations, the GPU resource, the code digests of the
# downstream jobs, and the papermill command of the figure jobs. Included before the rules.

from iloco.core import family
from iloco.core.config import config_hash
from iloco.core.provenance import code_digest

# Every job that trains or identifies declares this resource: it wants a GPU unless the
# config says cpu (profiles/local-gpu and profiles/slurm schedule on it).
GPU = 0 if config["device"] == "cpu" else 1
FAMILIES = family.NAMES


def code(*packages):
    """Digest of the code a figure, macro, claims or appendix job runs: the shared core and the
    named iloco packages, whole (a rule re-runs when it changes; training rules do not carry
    it, so a refactor never retrains)."""
    return code_digest("core", *packages)


def notebook(parameters):
    """Shell command of a figure job: its notebook run by ``iloco notebook`` (papermill) with
    ``parameters`` (``-p NAME VALUE ...``), the executed copy written only when every cell ran.
    """
    return (
        "python -m iloco notebook {input.notebook} {output.notebook} "
        + parameters
        + " 2> {log}"
    )
