-- A file's records into raw_rows, in the file's own column order (<columns>: its checked
-- header). <options>: (FORMAT csv) for the file's bytes as they are; nothing for the strict
-- reader's rows (COPY text format, escaped by psycopg).
COPY pg_temp.raw_rows ({columns}) FROM STDIN {options}
