-- Raw layer: what the connectors accepted, as delivered, plus what they refused.
-- Every row keeps where it came from (source, file, line) and a content hash, so a
-- record delivered twice with the same content is stored once.
create schema if not exists raw;

create table raw.ingested_files (
    source          text        not null,
    file_path       text        not null,
    file_sha256     text        not null,
    rows_read       integer     not null,
    rows_ingested   integer     not null,
    rows_quarantined integer    not null,
    ingested_at     timestamptz not null default now(),
    primary key (source, file_path, file_sha256)
);

-- One accepted contract document per client version; the newest accepted one is in force.
create table raw.contract_documents (
    document_id     bigserial   primary key,
    client_id       text        not null,
    source          text        not null default 'contracts',
    source_file     text        not null,
    content_hash    text        not null,
    document        jsonb       not null,
    ingested_at     timestamptz not null default now(),
    unique (client_id, content_hash)
);

create table raw.tax_rates (
    source          text        not null default 'tax',
    jurisdiction_code text      not null,
    rate            numeric     not null,
    taxable_categories text[]   not null,
    name            text,
    source_file     text        not null,
    source_line     integer     not null,
    file_sha256     text        not null,
    content_hash    text        not null,
    ingested_at     timestamptz not null default now(),
    unique (file_sha256, content_hash)
);

create table raw.timesheets (
    source          text        not null,
    record_id       text        not null,
    guard_id        text        not null,
    guard_name      text,
    site_id         text        not null,
    service_type    text        not null,
    check_in_at     timestamptz not null,
    check_out_at    timestamptz,
    scheduled_start_at timestamptz,
    scheduled_end_at timestamptz,
    post            text,
    vendor_ref      text,
    extra           jsonb,
    source_file     text        not null,
    source_line     integer     not null,
    content_hash    text        not null,
    ingested_at     timestamptz not null default now(),
    unique (source, record_id, content_hash)
);

create table raw.incidents (
    source          text        not null,
    record_id       text        not null,
    site_id         text        not null,
    classification  text        not null,
    response_started_at timestamptz not null,
    response_ended_at timestamptz not null,
    responder_guard_id text,
    opened_at       timestamptz,
    description     text,
    source_ref      text,
    vendor_ref      text,
    extra           jsonb,
    source_file     text        not null,
    source_line     integer     not null,
    content_hash    text        not null,
    ingested_at     timestamptz not null default now(),
    unique (source, record_id, content_hash)
);

create table raw.patrols (
    source          text        not null,
    record_id       text        not null,
    site_id         text        not null,
    guard_id        text        not null,
    started_at      timestamptz not null,
    completed_at    timestamptz,
    checkpoints_required integer not null,
    checkpoints_scanned integer not null,
    vendor_ref      text,
    extra           jsonb,
    source_file     text        not null,
    source_line     integer     not null,
    content_hash    text        not null,
    ingested_at     timestamptz not null default now(),
    unique (source, record_id, content_hash)
);

create table raw.devices (
    source          text        not null,
    record_id       text        not null,
    site_id         text        not null,
    device_type     text        not null,
    active_from     date        not null,
    active_to       date,
    vendor_ref      text,
    extra           jsonb,
    source_file     text        not null,
    source_line     integer     not null,
    content_hash    text        not null,
    ingested_at     timestamptz not null default now(),
    unique (source, record_id, content_hash)
);

-- Security events seen by video and access-control systems: evidence, not billed directly.
create table raw.device_events (
    source          text        not null,
    record_id       text        not null,
    site_id         text,
    device_id       text,
    event_type      text        not null,
    occurred_at     timestamptz not null,
    incident_ref    text,
    vendor_ref      text,
    extra           jsonb,
    source_file     text        not null,
    source_line     integer     not null,
    content_hash    text        not null,
    ingested_at     timestamptz not null default now(),
    unique (source, record_id, content_hash)
);

-- What a connector refused, with why. A record refused again adds no second row.
create table raw.quarantine (
    quarantine_id   bigserial   primary key,
    source          text        not null,
    file_path       text        not null,
    line            integer,
    record_id       text,
    field           text,
    reason          text        not null,
    content         text        not null,
    content_hash    text        not null,
    quarantined_at  timestamptz not null default now(),
    unique (source, content_hash)
);
