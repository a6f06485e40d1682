-- The migrations applied so far.
SELECT version, name, checksum FROM public.fleettickets_migrations;
