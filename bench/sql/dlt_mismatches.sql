-- dlt keeps columns, not jsonb (and types timestamps itself): a spot check of the text
-- fields a delta changes, which shows whether each ticket's last row won.
SELECT count(*)
FROM tickets.inc t
FULL JOIN bench_dlt.inc d USING (ticket_id)
WHERE (t.raw->>'raw_status', t.raw->>'bucket', t.raw->>'assigned_team', t.raw->>'owner')
      IS DISTINCT FROM (d.raw_status, d.bucket, d.assigned_team, d.owner);
