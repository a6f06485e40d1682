-- Remember the run on the dataset's import_meta row (status and the last run's summary).
UPDATE tickets.import_meta
SET last_run_at = now(),
    metadata = metadata || jsonb_build_object('last_run', %(summary)s::jsonb),
    updated_at = now()
WHERE dataset = %(dataset)s;
