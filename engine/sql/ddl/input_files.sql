-- input_files: each loaded file's position in its input (the file_index of
-- its rows) and its path, filled by Go (ingest); customers taken from the
-- transactions have file_index -1 and the path "transactions".
-- grain: input file; key: (source_table, file_index).
create or replace table input_files (
    source_table varchar,
    file_index   integer,
    source_file  varchar
)
