-- Record one migration, in the transaction that applied it.
INSERT INTO public.fleettickets_migrations (version, name, checksum)
VALUES (%(version)s, %(name)s, %(checksum)s);
