-- Run once by the postgres image on a fresh data volume (docker-entrypoint-initdb.d): the view
-- `python -m ops slow-queries` reads. The library itself is preloaded by the compose command.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
