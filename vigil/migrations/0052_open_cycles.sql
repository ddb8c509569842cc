-- Billing reads only open cycles (issue 14): each issuing run is recorded with the marts
-- build it read and the reviews it saw, so the next run reads the cycles that became due
-- since, the held ones, and the issued ones whose records changed since (docs/performance.md,
-- "Pipeline").
create table billing.issue_runs (
    run_id              bigserial   primary key,
    through             date        not null,
    scope               text        not null check (scope in ('open', 'full')),
    mart_build_id       bigint,
    mart_watermark      timestamptz,
    reviews_watermark   timestamptz not null,
    inputs              jsonb       not null,   -- contracts and tax read: a change reads everything
    cycles              integer     not null,   -- (client, cycle) pairs drafted
    started_at          timestamptz not null default now()
);

-- Issued invoices whose cycle re-rated differently and whose difference is not billed yet
-- (waiting for the client's next invoice, or for a blocking finding to be resolved): read
-- again every run until it is.
create table billing.rerate_pending (
    invoice_id          bigint      primary key references billing.invoices on delete cascade,
    noted_on            date        not null
);

-- The issued invoices citing a record that changed.
create index invoice_lines_source_refs on billing.invoice_lines using gin (source_refs);
