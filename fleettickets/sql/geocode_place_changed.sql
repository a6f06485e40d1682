-- Take in the tickets that changed and the cache answers that arrived since the last pass,
-- and place those tickets only (migrations/08); per dataset, the rows whose placement changed.
SELECT dataset, updated FROM tickets.resolve_changed_ticket_geoms();
