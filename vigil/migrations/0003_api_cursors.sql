-- Incremental API pulls: where each source's last pull stopped, kept across runs.
create table raw.api_cursors (
    source          text        primary key,
    cursor_value    text        not null,
    records_pulled  bigint      not null default 0,
    updated_at      timestamptz not null default now()
);
