"""Users, roles and permissions: the tables, the services and the admin API."""
