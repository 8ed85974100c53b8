#!/bin/sh
# Creates Temporal's two databases when they are missing and brings their schemas to the
# version this admin-tools image ships; safe on every `docker compose up`, and how a
# Temporal upgrade migrates its schema. Connection: SQL_HOST, SQL_PORT, SQL_USER,
# SQL_PASSWORD and SQL_PLUGIN from the environment (docker-compose.yml).
set -eu

SCHEMA=/etc/temporal/schema/postgresql/v12

migrate() {
    database=$1
    directory=$2
    # `create` fails on a database that exists; any other failure shows in the next step.
    temporal-sql-tool --db "$database" create || echo "database $database exists"
    temporal-sql-tool --db "$database" setup-schema -v 0.0
    temporal-sql-tool --db "$database" update-schema -d "$directory"
}

migrate temporal "$SCHEMA/temporal/versioned"
migrate temporal_visibility "$SCHEMA/visibility/versioned"
echo "Temporal's schemas are up to date"
