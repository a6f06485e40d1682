-- The provider refused for the rest of the day (429 Rate Limited Day, 402, 403): no run asks
-- again until the UTC day changes.
INSERT INTO tickets.geocoder_budget AS b (provider, day, stopped_reason, stopped_at)
VALUES (%(provider)s, (clock_timestamp() AT TIME ZONE 'UTC')::date, %(reason)s, clock_timestamp())
ON CONFLICT (provider, day) DO UPDATE
    SET stopped_reason = coalesce(b.stopped_reason, excluded.stopped_reason),
        stopped_at = coalesce(b.stopped_at, excluded.stopped_at);
