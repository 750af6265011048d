#!/usr/bin/env bash
# Start a real single-node SLURM cluster on this host (slurmctld + slurmd + munged), for tests and demos.
#
#   bash scripts/slurm/start_single_node.sh          # install if missing, configure, start, wait until idle
#   bash scripts/slurm/start_single_node.sh --stop   # stop the daemons this script started
#
# Idempotent: a second call with the cluster already up and configured the same way returns in a second.
# Needs root and apt-get (Debian/Ubuntu packages `slurm-wlm` and `munge`); there is no systemd, so the
# daemons are started by hand. Exit codes: 0 = cluster up (node idle), 3 = impossible here (not root / no
# apt-get / install failed; the reason is printed), 1 = started but the node never became idle.
#
# Variables:
#   OVD_SLURM_CPUS        CPUs the node offers (default: 6; may exceed the real cores: the tests run six tiny
#                         CPU jobs side by side, and SlurmdParameters=config_overrides accepts it)
#   OVD_SLURM_PARTITION   partition name (default: debug)
#   OVD_SLURM_KILLWAIT    seconds between SIGTERM and SIGKILL when a job is cancelled (default: 30)
set -euo pipefail

cpus="${OVD_SLURM_CPUS:-6}"
partition="${OVD_SLURM_PARTITION:-debug}"
killwait="${OVD_SLURM_KILLWAIT:-30}"
conf_dir=/etc/slurm
conf="$conf_dir/slurm.conf"
state_dir=/var/lib/slurm
log_dir=/var/log/slurm
node="$(hostname -s)"

log() { printf '[slurm] %s\n' "$*" >&2; }
impossible() { log "CANNOT START SLURM HERE: $*"; exit 3; }

stop() {
  for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "stopping $(basename "$pidfile" .pid) (pid $(cat "$pidfile"))"
      kill "$(cat "$pidfile")" || true
    fi
  done
}

if [[ "${1:-}" == "--stop" ]]; then
  stop
  exit 0
fi

[[ "$(id -u)" == 0 ]] || impossible "not root (uid $(id -u)); slurmd must run as root"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
    || ! command -v sbatch >/dev/null; then
  command -v apt-get >/dev/null || impossible "slurm-wlm/munge are not installed and there is no apt-get"
  log "installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends slurm-wlm munge >/tmp/ovd-slurm-apt.log 2>&1; then
    apt-get update -q >>/tmp/ovd-slurm-apt.log 2>&1 || true
    apt-get install -y -q --no-install-recommends slurm-wlm munge >>/tmp/ovd-slurm-apt.log 2>&1 \
      || impossible "apt-get install slurm-wlm munge failed (see /tmp/ovd-slurm-apt.log)"
  fi
fi

# --- munge: the authentication daemon every SLURM RPC goes through -------------------------------------
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [[ ! -s /etc/munge/munge.key ]]; then
  log "creating /etc/munge/munge.key"
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "starting munged"
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged --force
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || impossible "munged did not start (see /var/log/munge/munged.log)"
fi

# --- slurm.conf: one node (this host), one partition, no cgroups, no accounting ------------------------
mkdir -p "$conf_dir" "$state_dir/slurmctld" "$state_dir/slurmd" "$log_dir"
new_conf="$(cat <<CONF
# Written by ovd's scripts/slurm/start_single_node.sh: a single-node cluster on this host.
ClusterName=ovd
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# A requeued job may start again only after cred_expire seconds (default 120); keep it short on one node.
AuthInfo=cred_expire=10
StateSaveLocation=$state_dir/slurmctld
SlurmdSpoolDir=$state_dir/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
# No cgroups here (containers, no systemd): track processes through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=$killwait
MinJobAge=600
JobRequeue=1
SchedulerParameters=sched_interval=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=$partition Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
)"
restart=0
if [[ ! -f "$conf" ]] || [[ "$(cat "$conf")" != "$new_conf" ]]; then
  log "writing $conf ($cpus CPUs, partition $partition)"
  printf '%s\n' "$new_conf" >"$conf.tmp" && mv "$conf.tmp" "$conf"
  restart=1
fi
printf 'CgroupPlugin=cgroup/v1\n' >"$conf_dir/cgroup.conf"

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [[ "$restart" == 1 ]]; then
  for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
    if running "$pidfile"; then
      kill "$(cat "$pidfile")"
      for _ in $(seq 50); do running "$pidfile" || break; sleep 0.1; done
    fi
  done
fi
if ! running /run/slurmctld.pid; then
  log "starting slurmctld"
  slurmctld || impossible "slurmctld failed to start (see $log_dir/slurmctld.log)"
fi
if ! running /run/slurmd.pid; then
  log "starting slurmd"
  slurmd || impossible "slurmd failed to start (see $log_dir/slurmd.log)"
fi

# --- wait until the node is idle (or mixed/allocated: up and usable) ------------------------------------
for i in $(seq 120); do
  state="$(sinfo -h -N -n "$node" -o '%T' 2>/dev/null | head -1 || true)"
  case "$state" in
    idle|mixed|allocated|completing) log "node $node is $state (partition $partition)"; exit 0 ;;
    down*|drain*|drained*|fail*|unknown*)
      if (( i % 10 == 5 )); then scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true; fi ;;
  esac
  sleep 0.5
done
log "node $node did not become idle (state: ${state:-none}); see $log_dir/slurmctld.log and slurmd.log"
exit 1
