-- pgtier's backup role: it logs in and reads every table, and nothing more.
--
-- Run it as a superuser on PostgreSQL 14 or later (pg_read_all_data is new
-- in 14): once in any database to make the role (roles are cluster-wide),
-- and, on PostgreSQL 14 to 18, again in each database that holds large
-- objects (see below):
--
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -d postgres -f role.sql
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -d appdb -f role.sql
--
-- Running it again is harmless: it creates the role when it is missing and
-- resets its attributes either way.
--
-- Authentication. On the database host, let the system user backupd log in
-- as the role backupd over the Unix socket with peer authentication and no
-- password. Put this line in pg_hba.conf above any broader "local" line,
-- then reload (SELECT pg_reload_conf();):
--
--   # TYPE  DATABASE  USER     METHOD
--   local   all       backupd  peer
--
-- and point pgtier at the socket directory: postgres.host:
-- /var/run/postgresql (the directory, not the socket file). From another
-- host, use hostssl with scram-sha-256, set the password with \password
-- backupd in psql, and give pgtier the file that holds it
-- (postgres.password_file).
--
-- What the role can do, and what it cannot:
-- * pg_read_all_data gives SELECT on every table, view and sequence, and
--   USAGE on every schema, in every database, including those made later:
--   all that pg_dump needs, except large objects before PostgreSQL 19.
-- * Large objects have privileges of their own, which pg_read_all_data
--   covers only from PostgreSQL 19 on. Before that, the last part of this
--   file grants SELECT on every large object of the database it runs in.
--   A large object added later makes pg_dump stop with "permission denied
--   for large object N" (it never skips one): run this file again in that
--   database. On PostgreSQL 18 the owner of the large objects can make
--   this lasting: ALTER DEFAULT PRIVILEGES FOR ROLE owner GRANT SELECT ON
--   LARGE OBJECTS TO backupd;.
-- * pg_read_all_data also reads the system catalogs, pg_authid among them,
--   so the globals dump keeps the roles' password hashes (encrypted, like
--   every backup). A role without it would dump roles without passwords.
-- * It cannot write: no INSERT, UPDATE, DELETE, TRUNCATE or DDL anywhere,
--   and its sessions start read-only (default_transaction_read_only).
-- * It is not a superuser and cannot create databases or roles, replicate
--   or bypass row level security. A table with row level security enabled
--   makes pg_dump stop with "query would be affected by row-level security
--   policy" rather than write a partial dump; if you have such tables, run
--   ALTER ROLE backupd BYPASSRLS; as well.
-- * pg_monitor is not needed. On PostgreSQL 15, pg_control_system() (the
--   cluster's system identifier, recorded in each manifest) is executable
--   by every role; on servers where an administrator has revoked it, grant
--   EXECUTE on that function or pg_monitor, or the manifests record no
--   system identifier.
-- * Every database must accept its connections: CONNECT is granted to
--   PUBLIC by default; where it was revoked, GRANT CONNECT ON DATABASE name
--   TO backupd;.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'backupd') THEN
        CREATE ROLE backupd;
    END IF;
END
$$;

ALTER ROLE backupd WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE
    NOREPLICATION NOBYPASSRLS;

GRANT pg_read_all_data TO backupd;

ALTER ROLE backupd SET default_transaction_read_only = on;

COMMENT ON ROLE backupd IS 'pgtier backups: reads every table, writes nothing';

-- Large objects of this database, readable by backupd (PostgreSQL 14-18).
DO $$
DECLARE
    lo oid;
BEGIN
    IF current_setting('server_version_num')::int < 190000 THEN
        FOR lo IN SELECT oid FROM pg_catalog.pg_largeobject_metadata LOOP
            EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO backupd', lo);
        END LOOP;
    END IF;
END
$$;
