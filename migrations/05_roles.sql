-- Least privilege. Roles are cluster-wide (every database of the cluster sees the same ones),
-- so they are created only when missing, and a concurrent migration of another database
-- creating the same role first is not an error. Existing roles are left as they are. All
-- grants and revokes below are idempotent.
--   dashboard_api             NOLOGIN. Executes the reporting functions; reads nothing else
--                             (no privilege on schema tickets). Dashboard logins are members.
--   fleettickets_loader       NOLOGIN. The writes: DML on the tickets tables, temp tables
--                             for staging. The ingest worker's login is a member.
--   fleettickets_report_owner NOLOGIN. Owns the reporting functions, so the SECURITY DEFINER
--                             ones run with SELECT on the tickets tables and views they read, nothing more.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['dashboard_api', 'fleettickets_loader', 'fleettickets_report_owner'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by a migration of another database
            END;
        END IF;
    END LOOP;
END
$$;

-- Connect and stage (database-level privileges name the database, whatever it is called).
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO dashboard_api', current_database());
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO fleettickets_loader', current_database());
END
$$;

-- Nobody but the owner and the loader touches schema tickets. With PostgreSQL 15's default,
-- nobody but the owner creates objects in public either: that keeps the fixed search_path of
-- the SECURITY DEFINER functions (pg_catalog, public, pg_temp) free of planted objects.
REVOKE ALL ON SCHEMA tickets FROM PUBLIC;
REVOKE ALL ON SCHEMA tickets FROM dashboard_api;
REVOKE ALL ON ALL TABLES IN SCHEMA tickets FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA tickets FROM dashboard_api;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- The loader: reads and writes every tickets table, now and in later migrations.
GRANT USAGE ON SCHEMA tickets TO fleettickets_loader;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA tickets TO fleettickets_loader;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA tickets TO fleettickets_loader;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tickets TO fleettickets_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA tickets
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO fleettickets_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA tickets
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO fleettickets_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA tickets GRANT EXECUTE ON FUNCTIONS TO fleettickets_loader;

-- The function owner: reads exactly what the reporting functions read.
GRANT USAGE ON SCHEMA tickets TO fleettickets_report_owner;
GRANT SELECT ON tickets.inc, tickets.crq, tickets.inc_history, tickets.all_tickets, tickets.inc_closures
    TO fleettickets_report_owner;
GRANT USAGE ON SCHEMA reporting TO fleettickets_report_owner;

-- Every function in schema reporting is owned by fleettickets_report_owner; the SECURITY
-- DEFINER ones must pin their search_path (04_reporting.sql does), checked here.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'reporting'::regnamespace
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO fleettickets_report_owner', f);
    END LOOP;
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'reporting'::regnamespace AND p.prosecdef
          AND NOT coalesce(p.proconfig::text[] && ARRAY['search_path=pg_catalog, public, pg_temp'], false)
    LOOP
        RAISE EXCEPTION 'SECURITY DEFINER function % has no fixed search_path', f;
    END LOOP;
END
$$;

-- The reporting functions: executable by dashboard_api (and the loader, whose runs report),
-- by nobody else.
REVOKE ALL ON SCHEMA reporting FROM PUBLIC;
GRANT USAGE ON SCHEMA reporting TO dashboard_api, fleettickets_loader;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting
    TO dashboard_api, fleettickets_loader, fleettickets_report_owner;
ALTER DEFAULT PRIVILEGES IN SCHEMA reporting
    GRANT EXECUTE ON FUNCTIONS TO dashboard_api, fleettickets_loader, fleettickets_report_owner;
