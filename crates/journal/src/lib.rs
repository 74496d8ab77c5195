//! Durable job state for keyrevoke: SQLite (WAL) and PostgreSQL.
