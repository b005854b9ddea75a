#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, from Debian's packages (SLURM 22.05 on
# Debian 12), for tests/test_slurm.py: the workflow's SLURM profile is exercised against
# the same daemons a site runs (slurmctld, slurmd, slurmdbd + MariaDB for accounting), not
# a mock.
#
#   tests/cluster/slurm.sh start    install (if missing), configure and start; idempotent
#   tests/cluster/slurm.sh stop     stop the daemons this script starts
#   tests/cluster/slurm.sh status   sinfo / squeue / sacct sanity
#
# Needs root and apt-get (Debian/Ubuntu); works without systemd and without cgroups
# (containers): daemons are started directly, processes are tracked with
# proctrack/linuxproc and task/none.
#
# The cluster, as configured here (config files in /etc/slurm, Debian's default location,
# so plain sbatch/sacct/sinfo work for any user of the machine):
#   cluster  ILOCO_SLURM_CLUSTER (default "iloco"), one node = `hostname -s`, with the CPUs
#            and memory `slurmd -C` reports
#   cpu      partition, Default=YES
#   gpu      partition on the same node; the node advertises one *fake* GPU
#            (gres.conf: File= a link to /dev/null), so jobs that ask for a GPU
#            (--gpus=1, --gres=gpu:1) are scheduled and the GPU request path is exercised
#            on a GPU-less machine; nothing is behind it (the job gets
#            CUDA_VISIBLE_DEVICES=0, torch finds no CUDA device and device "auto" trains
#            on the CPU)
#   account  ILOCO_SLURM_ACCOUNT (default "iloco"), with root as a user
#   sacct    job accounting through slurmdbd + MariaDB (database slurm_acct_db, DB user
#            "slurm" authenticated by unix socket: no password anywhere), so
#            snakemake-executor-plugin-slurm's default status command (sacct) works
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin # the daemons live in sbin, not on every root's PATH

CLUSTER=${ILOCO_SLURM_CLUSTER:-iloco}
ACCOUNT=${ILOCO_SLURM_ACCOUNT:-iloco}
NODE=$(hostname -s)
ETC=/etc/slurm
LOG=/var/log/slurm
SPOOL=/var/lib/slurm
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
WAIT=${ILOCO_SLURM_WAIT:-60} # seconds each daemon may take to come up

say() { echo "slurm.sh: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# wait_for SECONDS WHAT COMMAND...: poll COMMAND until it succeeds; fail clearly after SECONDS.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "$what not ready after ${secs}s (logs: $LOG/, /var/log/munge/, /var/log/mysql/)"
    sleep 0.5
  done
}

# alive PIDFILE: is the process named in PIDFILE running?
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ---------------------------------------------------------------------------- install

install_packages() {
  local missing=()
  for cmd in slurmctld slurmd sbatch munged slurmdbd mariadbd; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
  done
  ((${#missing[@]} == 0)) && return
  [[ $(id -u) == 0 ]] || die "not root; as root run: apt-get install ${PACKAGES[*]}"
  command -v apt-get >/dev/null || die "apt-get not found; install SLURM 22.05+, munge, MariaDB yourself"
  say "installing ${PACKAGES[*]} (missing: ${missing[*]})"
  apt-get update -qq >/dev/null
  # policy-rc.d in containers stops the packages from starting services; we start them below.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

# ---------------------------------------------------------------------------- configure

# write_if_changed FILE MODE OWNER: replace FILE by stdin only when it differs, so that
# a second `start` leaves running daemons alone. Sets CHANGED=1 when it wrote.
CHANGED=0
write_if_changed() {
  local file=$1 mode=$2 owner=$3 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [[ -f $file ]] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
  else
    install -m "$mode" -o "${owner%:*}" -g "${owner#*:}" "$tmp" "$file"
    rm -f "$tmp"
    CHANGED=1
  fi
}

configure() {
  mkdir -p "$ETC" "$LOG" "$SPOOL/slurmctld" "$SPOOL/slurmd" /run/munge /var/log/munge /var/lib/munge /run/mysqld
  chown slurm:slurm "$LOG" "$SPOOL" "$SPOOL/slurmctld"
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chown mysql:mysql /run/mysqld

  # munge key: the package's postinst usually writes one; make one if it did not.
  mkdir -p /etc/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    say "writing /etc/munge/munge.key"
    mungekey --create --force --keyfile=/etc/munge/munge.key 2>/dev/null ||
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key

  # The node's hardware as slurmd sees it (CPUs, sockets, cores, threads, RealMemory), so
  # the node is never drained for advertising more than it has.
  local hw
  hw=$(slurmd -C | head -n 1 | sed -E 's/^NodeName=[^ ]+ //')
  [[ $hw == *CPUs=* && $hw == *RealMemory=* ]] || die "slurmd -C gave no hardware line: $hw"
  local cpus mem
  cpus=$(sed -E 's/.*CPUs=([0-9]+).*/\1/' <<<"$hw")
  mem=$(sed -E 's/.*RealMemory=([0-9]+).*/\1/' <<<"$hw")

  write_if_changed "$ETC/slurm.conf" 0644 root:root <<EOF
# Written by tests/cluster/slurm.sh: a single-node test cluster. Do not edit; re-run start.
ClusterName=$CLUSTER
# Everything on the loopback address: no need for the host name to resolve.
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
# Plain srun steps (no PMIx library in this install).
MpiDefault=none
# No systemd, no cgroups in a container: track processes by /proc, no task confinement.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
# Cores and memory are consumable; GPUs as generic resources (GRES) with --gpus support.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# A job that asks for no memory gets its CPUs' share, not the whole node.
DefMemPerCPU=$((mem / cpus))
GresTypes=gpu
SchedulerType=sched/backfill
# Backfill every 2 s (default 30): on one node a CPU job waits behind a GPU job that
# cannot start until the backfill pass; a small test cluster can afford frequent passes.
SchedulerParameters=bf_interval=2
# Accounting: jobs go to slurmdbd (MariaDB), so sacct works after a job has left slurmctld.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
# keep sbatch --comment (the plugin writes rule_<name>_wildcards_<...> there) in sacct
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue/scontrol for 5 minutes (the plugin's squeue mode
# needs >= 3 x its first status-check interval).
MinJobAge=300
# A node that comes back (slurmd restarted) returns to service by itself.
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
StateSaveLocation=$SPOOL/slurmctld
SlurmdSpoolDir=$SPOOL/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
# The only node: runs both partitions; one fake GPU (see gres.conf).
NodeName=$NODE NodeAddr=127.0.0.1 $hw Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF
  local conf_changed=$CHANGED
  CHANGED=0

  # One fake GPU. SLURM 22.05 drops a GPU declared without File= ("Removing file-less GPU
  # from final GRES list", then the node is INVAL: "gres/gpu count reported lower than
  # configured"), and it wants File= to be a character device. So the "GPU" is a link to
  # /dev/null: scheduled, allocated and accounted like a GPU (gres/gpu in AllocTRES), with
  # nothing behind it (the job sees CUDA_VISIBLE_DEVICES=0 and no CUDA device).
  ln -sfn /dev/null "$SPOOL/fake-gpu0"
  write_if_changed "$ETC/gres.conf" 0644 root:root <<EOF
# Written by tests/cluster/slurm.sh. A fake GPU: $SPOOL/fake-gpu0 -> /dev/null.
AutoDetect=off
NodeName=$NODE Name=gpu File=$SPOOL/fake-gpu0
EOF
  # Not used with proctrack/linuxproc + task/none; written so slurmd never probes cgroups
  # with defaults that fail in a container.
  write_if_changed "$ETC/cgroup.conf" 0644 root:root <<EOF
# Written by tests/cluster/slurm.sh. No cgroup plugins are configured (see slurm.conf).
CgroupAutomount=no
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainDevices=no
EOF
  ((CHANGED)) && conf_changed=1
  CHANGED=0

  # slurmdbd.conf must be owned by SlurmUser and private (mode 600).
  write_if_changed "$ETC/slurmdbd.conf" 0600 slurm:slurm <<EOF
# Written by tests/cluster/slurm.sh. MariaDB on its local socket; the DB user "slurm" is
# authenticated by unix_socket (the OS user slurmdbd runs as), so there is no password.
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StorageLoc=slurm_acct_db
PidFile=/run/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
EOF
  DBD_CHANGED=$CHANGED
  CONF_CHANGED=$conf_changed
}

# ---------------------------------------------------------------------------- daemons

start_munge() {
  alive /run/munge/munged.pid || runuser -u munge -- munged </dev/null >/dev/null 2>&1
  wait_for "$WAIT" munged bash -c 'munge -n | unmunge'
}

start_mariadb() {
  if ! mysqladmin --connect-timeout=2 ping >/dev/null 2>&1; then
    # a data directory removed after the package was installed (e.g. in an image build)
    [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql >/dev/null
    # mariadbd-safe restarts the server if it dies; detach it from our stdout/stderr.
    setsid mariadbd-safe --user=mysql </dev/null >/dev/null 2>&1 &
  fi
  wait_for "$WAIT" MariaDB mysqladmin --connect-timeout=2 ping
  mysql <<'EOF'
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED VIA unix_socket;
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
}

start_slurmdbd() {
  if alive /run/slurmdbd.pid && ((DBD_CHANGED)); then stop_one slurmdbd /run/slurmdbd.pid; fi
  alive /run/slurmdbd.pid || slurmdbd </dev/null >/dev/null 2>&1
  wait_for "$WAIT" slurmdbd sacctmgr -n list cluster
}

# Cluster, account and user in the accounting database (each only when missing).
register() {
  [[ -n $(sacctmgr -n -P list cluster "$CLUSTER" format=cluster) ]] ||
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
  [[ -n $(sacctmgr -n -P list account "$ACCOUNT" format=account) ]] ||
    sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description="iLOCO tests" organization=iloco >/dev/null
  [[ -n $(sacctmgr -n -P list assoc user=root account="$ACCOUNT" cluster="$CLUSTER" format=user) ]] ||
    sacctmgr -i add user root account="$ACCOUNT" cluster="$CLUSTER" >/dev/null
}

start_slurmctld() {
  if alive /run/slurmctld.pid && ((CONF_CHANGED)); then stop_one slurmctld /run/slurmctld.pid; fi
  alive /run/slurmctld.pid || slurmctld </dev/null >/dev/null 2>&1
  wait_for "$WAIT" slurmctld scontrol ping
}

start_slurmd() {
  if alive /run/slurmd.pid && ((CONF_CHANGED)); then stop_one slurmd /run/slurmd.pid; fi
  alive /run/slurmd.pid || slurmd </dev/null >/dev/null 2>&1
  # Wait (bounded) for the node to be usable: idle, or mixed/allocated when jobs of an
  # earlier run are still there. A node left down/drained/invalid by an earlier run (state
  # is kept in StateSaveLocation) is resumed once slurmd has registered.
  local end=$((SECONDS + WAIT)) state
  while :; do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    case $state in
      idle | mixed | allocated | completing) break ;;
      down | drained | draining | inval) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
    esac
    ((SECONDS < end)) || die "node $NODE not usable after ${WAIT}s: $(sinfo -h -n "$NODE" -o '%T %E') (log: $LOG/slurmd.log)"
    sleep 0.5
  done
}

# stop_one NAME PIDFILE: SIGTERM the daemon in PIDFILE and wait (bounded) for it to exit.
stop_one() {
  local name=$1 pidfile=$2 pid end
  alive "$pidfile" || return 0
  pid=$(cat "$pidfile")
  kill "$pid"
  end=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < end)) || die "$name (pid $pid) did not stop within 30s"
    sleep 0.2
  done
  rm -f "$pidfile" # slurmctld (running as SlurmUser) cannot remove its own in /run
  say "stopped $name"
}

# ---------------------------------------------------------------------------- commands

cmd_start() {
  local t0=$SECONDS
  [[ $(id -u) == 0 ]] || die "start needs root (it installs packages and starts daemons)"
  install_packages
  configure
  start_munge
  start_mariadb
  start_slurmdbd
  register
  start_slurmctld
  start_slurmd
  # sacct answers from slurmdbd (an empty list is fine: it must not error)
  wait_for "$WAIT" sacct sacct -n -X -S now-1minutes
  say "cluster $CLUSTER up on $NODE (partitions cpu, gpu; account $ACCOUNT) in $((SECONDS - t0))s"
}

cmd_stop() {
  stop_one slurmd /run/slurmd.pid
  stop_one slurmctld /run/slurmctld.pid
  stop_one slurmdbd /run/slurmdbd.pid
  if command -v mysqladmin >/dev/null && mysqladmin --connect-timeout=2 ping >/dev/null 2>&1; then
    mysqladmin shutdown && say "stopped MariaDB"
  fi
  stop_one munged /run/munge/munged.pid
}

cmd_status() {
  local rc=0
  sinfo || rc=1
  echo
  squeue || rc=1
  echo
  sacct -a -X -S now-1days -o JobID,JobName%12,Partition,Account,AllocTRES%40,State,ExitCode || rc=1
  return $rc
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 {start|stop|status}" >&2
    exit 2
    ;;
esac
