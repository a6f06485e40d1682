-- The full resolve: place every ticket from the caches and rebuild the counts; per dataset,
-- the rows whose placement changed.
SELECT dataset, updated FROM tickets.resolve_ticket_geoms();
