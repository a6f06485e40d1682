-- Tickets by placement precision, all and open, per dataset.
SELECT 'inc' AS dataset, geom_precision, count(*) AS tickets,
       count(*) FILTER (WHERE bucket = 'pending') AS open
FROM tickets.inc GROUP BY geom_precision
UNION ALL
SELECT 'crq', geom_precision, count(*), count(*) FILTER (WHERE bucket = 'pending')
FROM tickets.crq GROUP BY geom_precision;
