#!/usr/bin/env bash
# Run once by the postgres image when the primary's data directory is created: a replication
# role for the replica's pg_basebackup and streaming, allowed from the compose network.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator 172.28.0.0/16 scram-sha-256" >> "$PGDATA/pg_hba.conf"
