-- Ours and the floor apply the same contract rules: their raw rows must agree ticket by ticket.
SELECT count(*)
FROM tickets.inc t
FULL JOIN bench_floor.inc f USING (ticket_id)
WHERE t.raw IS DISTINCT FROM f.raw;
