#!/bin/sh
# Runs inside a private mount namespace (started by fleet.py through
# `unshare --mount --propagation private`): gives this host its own /run and
# mounts the host's directory at the common path, then starts the host's
# consumer and sshd, which both see that host's files only.
#
# usage: launch_host.sh HOSTDIR MOUNTPOINT SSHD_CONFIG SSHD_LOG CONSUMER_LOG CONSUMER_ARGV...
set -eu
hostdir=$1 mountpoint=$2 sshd_config=$3 sshd_log=$4 consumer_log=$5
shift 5

mount -t tmpfs -o mode=0755,size=16m rotor-fleet-run /run
mkdir -p /run/sshd
mount --bind "$hostdir" "$mountpoint"

"$@" >>"$consumer_log" 2>&1 </dev/null &
/usr/sbin/sshd -D -f "$sshd_config" -E "$sshd_log" </dev/null &
# Keep the namespace (and a process to enter it through) while the host lives.
sleep infinity &
wait
