-- Count one request against the provider's budget for today (UTC) and take the next free
-- slot, in one statement (the row lock serialises concurrent runs). No row comes back when
-- today's budget is spent or requests were stopped for the day.
INSERT INTO tickets.geocoder_budget AS b (provider, day, requests, next_slot_at)
SELECT %(provider)s, (clock_timestamp() AT TIME ZONE 'UTC')::date, 1,
       clock_timestamp() + make_interval(secs => %(delay)s)
WHERE %(limit)s >= 1
ON CONFLICT (provider, day) DO UPDATE
    SET requests = b.requests + 1,
        next_slot_at = greatest(clock_timestamp(), coalesce(b.next_slot_at, clock_timestamp()))
                       + make_interval(secs => %(delay)s)
    WHERE b.requests < %(limit)s AND b.stopped_reason IS NULL
RETURNING requests,
          greatest(0, extract(epoch FROM (next_slot_at - make_interval(secs => %(delay)s)
                                          - clock_timestamp())))::float8 AS wait_seconds;
