"""KOIKI-FW operations tooling: `python -m ops <command>` (or `koiki-ops`), on the host or in the
container. Commands: wait-for-db, migrate, backup, restore, prune-backups, list-backups, doctor,
create-superuser. Every command takes --help."""
