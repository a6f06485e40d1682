-- One file's records as the export wrote them, in file order (seq): every contract column as
-- text, filled by COPY (PostgreSQL's CSV parser, or the strict reader for files it refuses).
-- nul_cells: the kept columns whose cell held a NUL character (removed; the strict reader only).
-- The <columns> placeholder is composed from the dataset's declaration (fleettickets/datasets.py).
CREATE TEMP TABLE raw_rows (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    {columns},
    nul_cells text[]
) ON COMMIT DROP;
