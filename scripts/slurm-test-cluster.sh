#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, from Debian's packages, for the tests of
# `ofhnet slurm` (and for trying it by hand):
#
#   scripts/slurm-test-cluster.sh start DIR   # prints the SLURM_CONF to export
#   scripts/slurm-test-cluster.sh stop DIR
#
# start installs munge, slurmctld, slurmd and the client commands when they are missing (needs
# root and apt), creates a munge key if there is none, writes DIR/slurm.conf for a controller
# and one compute node on this host (all its CPUs, no cgroups: linuxproc process tracking, so
# it also runs inside a container) and starts munged, slurmctld and slurmd with their state,
# logs and pid files under DIR. It waits until the node is idle. stop ends the daemons it
# started. Exit 3: the cluster cannot be had here (no root, no apt, a daemon does not start).
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf="$dir/slurm.conf"

stop() {
  local pid
  for d in slurmd slurmctld munged; do
    if [ -f "$dir/$d.pid" ]; then
      pid=$(cat "$dir/$d.pid")
      kill "$pid" 2>/dev/null || true
      # slurmctld saves its state into DIR on the way out: wait (up to 10 s) until it is gone,
      # so that the caller can remove DIR (CI's removal during the save once failed with
      # "Directory not empty").
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$d.pid"
    fi
  done
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
  || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "Slurm is not installed and cannot be installed here (needs root and apt)" >&2
    exit 3
  fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq munge slurmctld slurmd slurm-client >&2 \
    || { echo "could not install Slurm" >&2; exit 3; }
fi

# munge: the node and the controller authenticate with one key.
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chmod 400 /etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key 2>/dev/null || true
fi
mkdir -p /run/munge "$dir/munge"
chown munge:munge /run/munge "$dir/munge" 2>/dev/null || true
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- munged --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    || munged --force --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    || { echo "munged does not start" >&2; exit 3; }
  cp "$dir/munge/munged.pid" "$dir/munged.pid" 2>/dev/null || true
fi

host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
mkdir -p "$dir/state" "$dir/spool"
cat > "$conf" <<EOF
# Written by scripts/slurm-test-cluster.sh: one controller and one node on $host.
ClusterName=ofhnet-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=30
MinJobAge=300
SchedulerType=sched/backfill
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF

export SLURM_CONF="$conf"
alive() { [ -f "$dir/$1.pid" ] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }
if ! alive slurmctld; then
  # Another cluster's controller on this host holds the port: ours could not start.
  if scontrol ping 2>/dev/null | grep -q UP; then
    echo "a Slurm controller not started from $dir already answers on this host" >&2
    exit 3
  fi
  slurmctld -f "$conf" -i || { echo "slurmctld does not start (see $dir/slurmctld.log)" >&2; exit 3; }
fi
if ! alive slurmd; then
  slurmd -f "$conf" -N "$host" || { echo "slurmd does not start (see $dir/slurmd.log)" >&2; exit 3; }
fi
for _ in $(seq 1 60); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "$conf"
    exit 0
  fi
  sleep 1
done
echo "the node did not become idle (see $dir/slurmctld.log and $dir/slurmd.log)" >&2
sinfo >&2 || true
exit 3
