-- Today's (UTC) requests and stop for one provider.
SELECT requests, stopped_reason, day
FROM tickets.geocoder_budget
WHERE provider = %(provider)s AND day = (clock_timestamp() AT TIME ZONE 'UTC')::date;
