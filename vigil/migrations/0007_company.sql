-- The billing company itself (interfaces.md section 2a): company.yaml at the inbox root,
-- stored whole as accepted; the newest (by ingested_at, then document_id) is in force. The
-- logo file's bytes are kept with it, so invoices rendered later do not need the inbox.
create table raw.company_documents (
    document_id     bigserial   primary key,
    source          text        not null default 'company',
    source_file     text        not null,
    -- sha256 of the canonical document and the logo's sha256
    content_hash    text        not null unique,
    document        jsonb       not null,
    logo            bytea,
    logo_media_type text,
    ingested_at     timestamptz not null default now(),
    check ((logo is null) = (logo_media_type is null))
);
