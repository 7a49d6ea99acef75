-- The inventory's own database and user on the stack's Postgres server (docker-compose.yml).
--
-- The postgres image runs every file in /docker-entrypoint-initdb.d once, as the superuser
-- POSTGRES_USER (airflow), when it initialises an empty data volume. The statements are
-- idempotent, so on an existing volume the same file can be applied by hand:
--   docker compose exec postgres psql -U airflow -d airflow -f /docker-entrypoint-initdb.d/10-inventory.sql
-- Matches AIRFLOW_CONN_INVENTORY_DB in config/airflow.distributed.env. Local-development password.

SELECT 'CREATE ROLE inventory LOGIN PASSWORD ''inventory'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'inventory')\gexec

SELECT 'CREATE DATABASE inventory OWNER inventory'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'inventory')\gexec
