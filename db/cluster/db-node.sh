#!/bin/sh
# One database host: its etcd member in the background, Patroni (which runs PostgreSQL) in front.
# Shared settings come from /etc/pco/etcd.env and /etc/pco/patroni.yml; the host's own name and
# addresses from ETCD_* and PATRONI_* variables (docker-compose.yml's cluster profile sets them).
set -eu
set -a
. /etc/pco/etcd.env
set +a
etcd &
# PostgreSQL insists that its data directory be private to its owner.
umask 077
export HOME=/var/lib/pco/patroni
exec runuser -u postgres -- patroni /etc/pco/patroni.yml
