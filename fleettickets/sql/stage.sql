-- Rows of one file, in file order (seq), dropped at commit.
CREATE TEMP TABLE staged (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    raw jsonb NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE applied (
    ticket_id text PRIMARY KEY,
    inserted  boolean NOT NULL,
    changed   boolean NOT NULL,  -- false: only the carrying file moved on
    old_raw   jsonb  -- null when inserted; the new state is in the table itself
) ON COMMIT DROP;
