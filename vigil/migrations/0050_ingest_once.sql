-- Ingest once (issue 14): the inbox connector skips a file whose path and content are the
-- version last ingested at that path, without parsing it. `last_ingested_at` orders the
-- versions of a path (A, then B, then A again makes A the current one again); the size and
-- modification time seen with a version let an unchanged file be recognised without
-- hashing it again.
alter table raw.ingested_files
    add column last_ingested_at timestamptz not null default now(),
    add column file_size bigint,
    add column file_mtime_ns bigint;

create index ingested_files_latest_by_path on raw.ingested_files (file_path, last_ingested_at desc);
