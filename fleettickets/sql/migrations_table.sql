-- The record of applied migrations: one row per numbered file, with its checksum.
CREATE TABLE IF NOT EXISTS public.fleettickets_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
