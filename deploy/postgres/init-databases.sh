#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d):
# a role for Temporal, which creates its own two databases, and a role owning Vagt's read
# model. Neither is a superuser.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v temporal_password="$TEMPORAL_DB_PASSWORD" \
    -v vagt_password="$VAGT_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE ROLE vagt LOGIN PASSWORD :'vagt_password';
CREATE DATABASE vagt OWNER vagt;
SQL
