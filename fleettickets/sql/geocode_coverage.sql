-- Tickets by placement precision ('none': not placed) and open, per dataset (kept by the
-- placing passes, migrations/08).
SELECT dataset, precision, pending, tickets FROM tickets.geo_coverage WHERE tickets <> 0;
