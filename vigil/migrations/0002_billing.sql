-- Billing layer: invoices, their numbers, the ledger, payment attempts and messages.
-- Written only by billing/; issued invoices never change.
create schema if not exists billing;

-- Gap-free numbering: one counter per (prefix, year), advanced in the issuing transaction.
create table billing.number_sequences (
    prefix          text        not null,
    year            integer     not null,
    last_value      integer     not null,
    primary key (prefix, year)
);

create table billing.invoices (
    invoice_id      bigserial   primary key,
    -- client|kind|period_start|period_end|site (or '*')|cycle group: one invoice per key, ever.
    invoice_key     text        not null unique,
    invoice_number  text        unique,
    status          text        not null check (status in
                    ('held', 'issued', 'partially_paid', 'paid', 'void', 'in_collections')),
    kind            text        not null check (kind in ('arrears', 'advance')),
    client_id       text        not null,
    site_id         text,
    contract_ids    text[]      not null,
    currency        text        not null,
    period_start    date        not null,
    period_end      date        not null,
    issue_date      date        not null,
    due_date        date        not null,
    subtotal        numeric(14, 2) not null,
    tax_total       numeric(14, 2) not null,
    total           numeric(14, 2) not null,
    hold_reasons    jsonb,
    created_at      timestamptz not null default now(),
    issued_at       timestamptz
);
create index on billing.invoices (client_id, issue_date);

create table billing.invoice_lines (
    invoice_id      bigint      not null references billing.invoices on delete cascade,
    line_no         integer     not null,
    site_id         text,
    category        text        not null,
    description     text        not null,
    quantity        numeric(14, 4) not null,
    unit            text        not null,
    unit_price      numeric(14, 6) not null,
    amount          numeric(14, 2) not null,
    tax_jurisdiction text,
    source_refs     text[]      not null,
    explanation     text        not null,
    primary key (invoice_id, line_no)
);

-- The ledger: money applied to invoices (payments, credits).
create table billing.ledger_entries (
    entry_id        bigserial   primary key,
    invoice_id      bigint      references billing.invoices,
    client_id       text        not null,
    entry_type      text        not null check (entry_type in ('payment', 'credit', 'refund')),
    amount          numeric(14, 2) not null,
    currency        text        not null,
    effective_date  date        not null,
    payment_attempt_id bigint   unique,
    reference       text,
    created_at      timestamptz not null default now()
);

-- Auto-pay attempts, recorded before the provider is called (collections.md section 2).
create table billing.payment_attempts (
    payment_attempt_id bigserial primary key,
    invoice_id      bigint      not null references billing.invoices,
    attempt_no      integer     not null,
    idempotency_key text        not null unique,
    attempt_date    date        not null,
    amount          numeric(14, 2) not null,
    amount_minor    bigint      not null,
    currency        text        not null,
    payment_method  text        not null,
    status          text        not null check (status in ('pending', 'succeeded', 'failed', 'unknown')),
    provider_ref    text,
    failure_code    text,
    failure_message text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (invoice_id, attempt_no),
    unique (invoice_id, attempt_date)
);

-- Every message to a client, at most once per dedupe key (invoice, template).
create table billing.messages (
    message_id      bigserial   primary key,
    dedupe_key      text        not null unique,
    client_id       text        not null,
    invoice_id      bigint      references billing.invoices,
    template        text        not null,
    channel         text        not null,
    recipient       text        not null,
    subject         text        not null,
    status          text        not null check (status in ('pending', 'sent', 'failed')),
    provider_message_id text,
    business_date   date        not null,
    created_at      timestamptz not null default now(),
    sent_at         timestamptz
);

create table billing.message_events (
    message_id      bigint      not null references billing.messages,
    event           text        not null,
    detail          text,
    occurred_at     timestamptz not null default now()
);

-- Finance's decisions on findings; kept across runs (findings themselves are rebuilt by dbt).
create table billing.finding_reviews (
    finding_id      text        primary key,
    status          text        not null check (status in ('excluded', 'billed_as_is', 'corrected')),
    note            text        not null,
    reviewed_by     text        not null,
    reviewed_at     timestamptz not null default now()
);
