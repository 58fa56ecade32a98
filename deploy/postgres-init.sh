#!/bin/bash
# First start of the compose PostgreSQL: the roles segflow uses (docker-compose.yml).
# segflow_owner owns the schema and runs the migrations; segflow_app is what the API and the
# workers connect as: no superuser, no ownership, plain DML on the tables the owner creates,
# and (migration 0005) no UPDATE, DELETE or TRUNCATE on the audit log.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner_pw="$SEGFLOW_OWNER_DB_PASSWORD" -v app_pw="$SEGFLOW_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE segflow_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_pw';
CREATE ROLE segflow_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_pw';
ALTER DATABASE segflow OWNER TO segflow_owner;
ALTER SCHEMA public OWNER TO segflow_owner;
GRANT CONNECT ON DATABASE segflow TO segflow_app;
GRANT USAGE ON SCHEMA public TO segflow_app;
ALTER DEFAULT PRIVILEGES FOR ROLE segflow_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO segflow_app;
ALTER DEFAULT PRIVILEGES FOR ROLE segflow_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO segflow_app;
SQL
