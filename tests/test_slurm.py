"""The workflow on a real SLURM cluster: profiles/slurm against a single-node SLURM 22.05
started on this machine by tests/cluster/slurm.sh (slurmctld, slurmd, slurmdbd + MariaDB).

One Snakemake run of the test config through sbatch proves that
  (a) every job went through sbatch and is in SLURM's accounting (sacct) as COMPLETED,
      training on the gpu partition with a GPU allocated (the cluster's GPU is a fake one);
  (b) a job that fails is reported and retried (`retries` in the profile): sacct holds a
      FAILED and then a COMPLETED job for that rule, and the run still succeeds;
  (c) the results equal those of a local run (timing and provenance aside).

Needs root and apt-get (the script installs Debian's packages); skipped otherwise, except
under CI (env CI set), where a skip would hide a missing cluster: there it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import BIN, REPO, copy_repo, snakemake, workflow_env

pytestmark = pytest.mark.slurm

SLURM_SH = REPO / "tests" / "cluster" / "slurm.sh"
TARGET = "results/sp1/sp1.csv"
# The local cluster's names for the profile's placeholders (see tests/cluster/slurm.sh).
SITE = {"CHANGE_ME_cpu_partition": "cpu", "CHANGE_ME_gpu_partition": "gpu", "CHANGE_ME_account": "iloco"}
# Memory per job here: the profile's values are for the paper scale and may exceed a small
# CI machine's (SLURM refuses a job that asks for more than the node has); a test-scale job
# peaks at ~0.3 GB (results/benchmarks/).
TEST_MEM_MB = 1000
RUN_TIMEOUT = 600  # seconds for the whole SLURM run (it takes ~1-2 min on 2 cores)
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")
INJECTED = "injected failure for tests/test_slurm.py"


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"SLURM test cannot run under CI: {reason}")
    pytest.skip(reason)


def _run(cmd: list[str], timeout: int = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def cluster():
    """Start the local cluster (installing it if needed); stop it afterwards if we started it."""
    if os.geteuid() != 0:
        _unavailable("needs root to install and start SLURM")
    if shutil.which("apt-get") is None:
        _unavailable("needs apt-get to install SLURM")
    was_up = shutil.which("scontrol") is not None and _run(["scontrol", "ping"]).returncode == 0
    t0 = time.monotonic()
    proc = _run(["bash", str(SLURM_SH), "start"], timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"slurm.sh start: {time.monotonic() - t0:.0f} s")
    yield
    if not was_up:
        _run(["bash", str(SLURM_SH), "stop"], timeout=120)


def site_overrides(profile: Path) -> list[str]:
    """The profile's resource blocks, with the placeholders replaced by the local cluster's
    names and memory requests cut to the test's, as command-line options (on the command
    line, --default-resources and --set-resources replace the profile's whole block, so every
    entry is repeated)."""
    prof = yaml.safe_load(profile.read_text())

    def value(key, v):
        if key == "mem_mb":
            return TEST_MEM_MB
        return SITE.get(v, v) if isinstance(v, str) else v

    defaults = [f"{key}={value(key, v)}" for key, v in prof["default-resources"].items()]
    sets = [f"{rule}:{key}={value(key, v)}" for rule, res in prof["set-resources"].items() for key, v in res.items()]
    args = ["--default-resources", *defaults, "--set-resources", *sets]
    assert "CHANGE_ME" not in " ".join(args), f"a placeholder without a local value: {args}"
    return args


def inject_failure_once(repo: Path, marker: Path) -> None:
    """Make sp1_baselines fail on its first attempt only (in this copy of the workflow)."""
    rules = repo / "workflow" / "rules" / "sp1.smk"
    text = rules.read_text()
    anchor = '"python -m iloco sp1-baselines '
    assert text.count(anchor) == 1, "sp1_baselines' shell command changed; update inject_failure_once"
    # (a Snakemake shell string: braces doubled)
    guard = f"test -e {marker} || {{{{ touch {marker}; echo {INJECTED} >&2; exit 1; }}}}; "
    rules.write_text(text.replace(anchor, anchor[0] + guard + anchor[1:]))


def sacct(jobids: list[str]) -> pd.DataFrame:
    fields = "JobID,JobName%60,Partition,Account,State,ExitCode,Timelimit,AllocTRES%80,Comment%120"
    proc = _run(["sacct", "-n", "-P", "-X", "-j", ",".join(jobids), "-o", fields])
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("|") for line in proc.stdout.splitlines() if line.strip()]
    return pd.DataFrame(rows, columns=re.sub(r"%\d+", "", fields).split(","))


def minutes(timelimit: str) -> int:
    """SLURM's [D-]HH:MM:SS as minutes."""
    days, _, hms = timelimit.rpartition("-")
    h, m, _ = (int(x) for x in hms.split(":"))
    return int(days or 0) * 1440 + h * 60 + m


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    """The test config through profiles/slurm, with sp1_baselines failing once."""
    repo = copy_repo(tmp_path_factory.mktemp("slurm") / "repo")
    inject_failure_once(repo, repo / "failed-once")
    cmd = [
        "timeout",
        "-k",
        "30",
        str(RUN_TIMEOUT),
        str(BIN / "snakemake"),
        TARGET,
        "--workflow-profile",
        "profiles/slurm",
        *site_overrides(repo / "profiles" / "slurm" / "config.yaml"),
        # poll SLURM every few seconds (the plugin's defaults suit big clusters: 40 s+)
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--seconds-between-status-checks",
        "3",
        "--configfile",
        "config/test.yaml",
    ]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=repo, env=workflow_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT + 60)
    print(f"Snakemake on SLURM: {time.monotonic() - t0:.0f} s")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    submitted = [(m.group(2), m.group(3)) for m in SUBMITTED.finditer(out)]
    assert submitted, out[-6000:]
    return repo, out, submitted


def test_jobs_went_through_sbatch_and_are_in_sacct(slurm_run):
    repo, out, submitted = slurm_run
    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)
    ids = [jobid for jobid, _ in submitted]
    acct = sacct(ids).set_index("JobID")
    assert sorted(acct.index) == sorted(ids), (ids, acct)
    # every job of this run carries the run id as its job name (that is how the plugin polls)
    name = _run(["sacct", "-n", "-P", "-X", "--name", run_id, "-S", "now-1days", "-o", "JobID"])
    assert sorted(name.stdout.split()) == sorted(ids)
    assert (acct["JobName"] == run_id).all()
    assert (acct["Account"] == SITE["CHANGE_ME_account"]).all(), acct
    rule = acct["Comment"].str.extract(r"^rule_(sp1_\w+?)(?:_wildcards_.*)?$")[0]
    assert rule.notna().all(), acct["Comment"]
    # one job per rule and depth, plus the failed first attempt of sp1_baselines
    per_depth = ["sp1_train", "sp1_train", "sp1_potential", "sp1_potential"]
    assert sorted(rule) == sorted(["sp1_data", "sp1_baselines", "sp1_baselines", *per_depth, "sp1_table"])
    done = acct[acct["State"] == "COMPLETED"]
    assert sorted(rule[done.index]) == sorted(["sp1_data", "sp1_baselines", *per_depth, "sp1_table"])
    train = acct[rule == "sp1_train"]
    assert (train["Partition"] == "gpu").all(), train
    assert train["AllocTRES"].str.contains("gres/gpu=1").all(), train
    others = acct[rule != "sp1_train"]
    assert (others["Partition"] == "cpu").all(), others
    assert not others["AllocTRES"].str.contains("gpu").any(), others


def test_failed_job_is_reported_and_retried(slurm_run):
    repo, out, submitted = slurm_run
    assert (repo / "failed-once").exists()
    assert "Error in rule sp1_baselines" in out
    failed = re.search(r"SLURM-job '(\d+)' failed, SLURM status is: 'FAILED'", out)
    assert failed, out[-6000:]
    baselines = [jobid for jobid, log in submitted if "/rule_sp1_baselines/" in log]
    assert len(baselines) == 2, submitted
    acct = sacct(baselines).set_index("JobID")
    first, second = sorted(baselines, key=int)
    assert failed.group(1) == first
    assert acct.loc[first, "State"] == "FAILED" and acct.loc[first, "ExitCode"] == "1:0", acct
    assert acct.loc[second, "State"] == "COMPLETED", acct
    # the retry gets a longer wall time (the profile's runtime scales with the attempt)
    assert minutes(acct.loc[second, "Timelimit"]) == 2 * minutes(acct.loc[first, "Timelimit"]), acct
    # the failed job's SLURM log is kept, and holds the job's stderr
    log = next(Path(p) for jobid, p in submitted if jobid == first)
    assert INJECTED in (repo / log).read_text()


def test_results_equal_a_local_run(slurm_run, tmp_path):
    repo, _, _ = slurm_run
    local = copy_repo(tmp_path / "local")
    proc = snakemake(local, TARGET, "--configfile", "config/test.yaml", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    drop = ["wall_time_s", "commit", "config_hash", "versions", "device"]
    a = pd.read_csv(repo / TARGET).drop(columns=drop)
    b = pd.read_csv(local / TARGET).drop(columns=drop)
    assert a.to_csv(index=False, float_format="%.17g") == b.to_csv(index=False, float_format="%.17g")
    for rel in ("results/sp1/instances.npz", "results/sp1/baselines.npz"):
        assert (repo / rel).read_bytes() == (local / rel).read_bytes(), rel
