#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, without systemd or cgroups, for tests and for trying --executor slurm:
#   bash scripts/slurm-local.sh start    starts munged (if none answers), slurmctld and slurmd; prints `export SLURM_CONF=...`
#   bash scripts/slurm-local.sh status   says whether the controller answers, and shows the node
#   bash scripts/slurm-local.sh stop     stops the daemons it started (by the PIDs in their pidfiles)
# Every file Slurm writes (config, state, spool, logs, pidfiles) lives in $GLIT_SLURM_DIR (default /tmp/glit-slurm);
# munged keeps the system's /run/munge. Ports: $GLIT_SLURM_PORT (default 6817) and the next one, on 127.0.0.1.
# Needs Debian's slurm-wlm and munge (scripts/setup.sh installs them) and root or sudo (slurmd runs jobs as their user).
# The settings follow what ../shared/platform-notes.md measured: fast scheduling and requeues for CI.
set -euo pipefail

DIR=${GLIT_SLURM_DIR:-/tmp/glit-slurm}
PORT=${GLIT_SLURM_PORT:-6817}
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

say() { echo "slurm-local: $*" >&2; }

need_binaries() {
  local b
  for b in sbatch squeue scontrol slurmctld slurmd munged munge; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || {
      say "'$b' not found: install Slurm with 'apt-get install -y --no-install-recommends slurm-wlm munge' (or npm run setup)"
      exit 1
    }
  done
}

controller_answers() { [ -f "$CONF" ] && scontrol ping 2>/dev/null | grep -q 'is UP'; }
munge_answers() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

# Kills the daemon whose PID is in pidfile $1 and waits (up to 10 s) until it is gone.
stop_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    $SUDO kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && $SUDO kill -9 "$pid"
  fi
  $SUDO rm -f "$file"
}

write_conf() {
  # The node's hardware as slurmd detects it, under the name the config gives it (the hostname is not localhost).
  local hardware
  hardware=$(/usr/sbin/slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //')
  cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster on localhost.
ClusterName=glit-local
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
SchedulerParameters=sched_interval=1
KillWait=5
MinJobAge=600
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  need_binaries
  if controller_answers; then
    say "already running ($DIR)"
    echo "export SLURM_CONF=$CONF"
    return
  fi
  mkdir -p "$DIR/state" "$DIR/spool"
  if ! munge_answers; then
    $SUDO mkdir -p /run/munge
    $SUDO chown munge:munge /run/munge
    $SUDO runuser -u munge -- /usr/sbin/munged
    cp /run/munge/munged.pid "$DIR/munged.pid" # ours to stop
    for _ in $(seq 50); do munge_answers && break; sleep 0.1; done
    munge_answers || { say "munged did not start: see /var/log/munge/munged.log"; exit 1; }
  fi
  write_conf
  $SUDO /usr/sbin/slurmctld -c -i -f "$CONF"
  $SUDO /usr/sbin/slurmd -N localhost -f "$CONF"
  local state=""
  for _ in $(seq 100); do
    state=$(sinfo -h -n localhost -o %t 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.2
  done
  [ "$state" = idle ] || { say "the node is '$state', not idle, after 20 s: see $DIR/slurmctld.log and $DIR/slurmd.log"; exit 1; }
  say "up: one node ($(sinfo -h -o '%c CPUs, %m MB'), partition debug), files in $DIR"
  echo "export SLURM_CONF=$CONF"
}

stop() {
  stop_pidfile "$DIR/slurmd.pid"
  stop_pidfile "$DIR/slurmctld.pid"
  stop_pidfile "$DIR/munged.pid"
  say "stopped ($DIR)"
}

status() {
  if controller_answers; then
    say "running, SLURM_CONF=$CONF"
    sinfo >&2
  else
    say "not running ($DIR)"
    return 1
  fi
}

case "${1:-}" in
  start | stop | status) "$1" ;;
  *) echo "usage: $0 start|stop|status   (files in \$GLIT_SLURM_DIR, default /tmp/glit-slurm)" >&2; exit 2 ;;
esac
