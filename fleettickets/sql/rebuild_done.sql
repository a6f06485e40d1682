-- A full replay completed: the rebuild an unapplied file asked for is done.
UPDATE tickets.import_meta
SET metadata = metadata - 'rebuild_required', updated_at = now()
WHERE dataset = %(dataset)s AND metadata ? 'rebuild_required';
