-- PostGIS, the two schemas, and the never-raising parsers behind every typed column.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS tickets;
CREATE SCHEMA IF NOT EXISTS reporting;

-- Naive EAT text (YYYY-MM-DD HH:MM:SS, optional T separator and fractional seconds)
-- to timestamptz; null for anything that does not parse, impossible dates included.
-- The regex rejects most garbage cheaply; the handler catches dates like 2026-02-30.
-- IMMUTABLE holds because the pattern only admits ISO Y-M-D and the offset is explicit,
-- so neither DateStyle nor TimeZone can change the result.
CREATE OR REPLACE FUNCTION tickets.eat_ts(t text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF t IS NULL
       OR t !~ '^\s*\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?\s*$' THEN
        RETURN NULL;
    END IF;
    RETURN (translate(btrim(t), 'T', ' ') || '+03')::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- 'true'/'false' in any case and padding; null otherwise.
CREATE OR REPLACE FUNCTION tickets.to_bool(t text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE lower(btrim(t)) WHEN 'true' THEN true WHEN 'false' THEN false END
$$;

-- A plain decimal number; null otherwise (numeric has no overflow at these sizes).
CREATE OR REPLACE FUNCTION tickets.to_numeric(t text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t ~ '^\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*$' THEN btrim(t)::numeric END
$$;
