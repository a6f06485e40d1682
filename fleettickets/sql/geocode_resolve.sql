-- Place every ticket from the caches; per dataset, the rows whose placement changed.
SELECT dataset, updated FROM tickets.resolve_ticket_geoms();
