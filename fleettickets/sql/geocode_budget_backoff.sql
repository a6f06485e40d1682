-- Honour a Retry-After for every run: the next slot is not before it.
UPDATE tickets.geocoder_budget
   SET next_slot_at = greatest(coalesce(next_slot_at, clock_timestamp()),
                               clock_timestamp() + make_interval(secs => %(seconds)s))
 WHERE provider = %(provider)s AND day = (clock_timestamp() AT TIME ZONE 'UTC')::date;
