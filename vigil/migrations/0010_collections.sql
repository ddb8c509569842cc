-- Collections (collections.md sections 1-5, interfaces.md sections 2a and 5): payments
-- received outside the provider, the payment-attempt state machine, client payment
-- methods in force, dunning, the agency hand-off and provider events.

-- 1. Payments received (interfaces.md section 2a), as the inbox delivered them.
create table raw.payments_received (
    source          text        not null,
    record_id       text        not null,   -- payment_id
    client_id       text        not null,
    amount          numeric     not null,
    received_on     date        not null,
    method          text        not null,
    invoice_number  text,
    currency        text,                   -- null: the client's currency
    reference       text,
    extra           jsonb,
    source_file     text        not null,
    source_line     integer     not null,
    content_hash    text        not null,
    ingested_at     timestamptz not null default now(),
    unique (source, record_id, content_hash)
);

-- Each payment received, applied once (its ledger entries carry received_payment_id).
create table billing.received_payments (
    payment_id      text        primary key,
    client_id       text        not null,
    amount          numeric     not null,
    currency        text        not null,
    received_on     date        not null,
    method          text        not null,
    invoice_number  text,
    reference       text,
    applied_at      timestamptz not null default now()
);

-- 2. Payment attempts: one state machine (billing/payments.py). `channel` says who made
--    it (auto-pay on the schedule, or the client through a pay link), `reason` why auto-pay
--    made it; `settled_on` is the business day its outcome was learned (a card's at once,
--    an ACH debit's days later), `decline` soft or hard.
alter table billing.payment_attempts drop constraint payment_attempts_status_check;
alter table billing.payment_attempts add constraint payment_attempts_status_check
    check (status in ('pending', 'processing', 'succeeded', 'failed', 'unknown'));
alter table billing.payment_attempts
    add column channel      text not null default 'autopay' check (channel in ('autopay', 'link')),
    add column reason       text not null default 'due' check (reason in ('due', 'retry', 'new_method', 'link')),
    add column method       text not null default 'card' check (method in ('card', 'us_bank_account')),
    add column decline      text check (decline in ('soft', 'hard')),
    add column decline_code text,
    add column settled_on   date,
    add column metadata     jsonb not null default '{}'::jsonb;
update billing.payment_attempts set settled_on = attempt_date where status in ('succeeded', 'failed');
alter table billing.payment_attempts drop constraint payment_attempts_invoice_id_attempt_no_key;
alter table billing.payment_attempts drop constraint payment_attempts_invoice_id_attempt_date_key;
create unique index payment_attempts_number on billing.payment_attempts (invoice_id, channel, attempt_no);
-- at most one auto-pay attempt per invoice per day (collections.md section 2)
create unique index payment_attempts_one_a_day on billing.payment_attempts (invoice_id, attempt_date)
    where channel = 'autopay';
create index payment_attempts_open on billing.payment_attempts (status)
    where status in ('pending', 'processing', 'unknown');

-- A payment may now be spread over several invoices and leave a client credit (invoice_id
-- null): several entries per attempt or received payment. An attempt's entries are written
-- once, by the transition that makes it `succeeded` (billing/payments.py).
alter table billing.ledger_entries drop constraint ledger_entries_payment_attempt_id_key;
alter table billing.ledger_entries
    add column received_payment_id text references billing.received_payments;
create index on billing.ledger_entries (payment_attempt_id);
create index on billing.ledger_entries (client_id) where invoice_id is null;

-- Payments received that cannot be applied (yet): an unknown client or invoice, an amount
-- finer than the currency's minor unit, a payment_id delivered again with other content.
-- Re-judged every day a run processes: a payment whose client arrives later is applied then.
create table billing.payment_refusals (
    payment_id      text        not null,
    version_number  integer     not null,
    source_file     text        not null,
    source_line     integer     not null,
    field           text,
    reason          text        not null,
    refused_on      date        not null,
    primary key (payment_id, version_number)
);

-- 3. The payment method in force: the contract file's, or one set in the portal, each from
--    its `effective_on` business day (the newest in force wins).
create table billing.payment_methods (
    payment_method_id bigserial primary key,
    client_id       text        not null,
    payment_method  text,                   -- null: removed from the contract file
    source          text        not null check (source in ('contract', 'portal')),
    effective_on    date        not null,
    recorded_at     timestamptz not null default now()
);
create index on billing.payment_methods (client_id, effective_on);

-- 4. Dunning: each status change once, on its business day; one hand-off record per invoice.
create table billing.dunning_events (
    invoice_id      bigint      not null references billing.invoices,
    status          text        not null check (status in ('delinquent', 'in_collections')),
    for_date        date        not null,
    reason          text        not null,
    recorded_at     timestamptz not null default now(),
    primary key (invoice_id, status)
);

create table billing.collection_handoffs (
    invoice_id      bigint      primary key references billing.invoices,
    handed_off_on   date        not null,
    client_id       text        not null,
    client_name     text,
    email           text,
    phone           text,
    currency        text        not null,
    amount_due      numeric     not null,
    due_date        date        not null,
    days_past_due   integer     not null,
    attempts        integer     not null,
    messages        integer     not null
);

-- 5. Payment provider events (the Stripe webhook): stored once per (provider, event id), with
--    the business day they arrived and what they changed. (Delivery events of SendGrid and
--    Twilio are kept with their message: billing.message_events, 0020.)
create table billing.provider_events (
    provider_event_id bigserial primary key,
    provider        text        not null check (provider in ('stripe', 'sendgrid', 'twilio')),
    event_id        text        not null,
    event_type      text        not null,
    object_id       text,
    occurred_at     timestamptz,
    for_date        date        not null,
    received_at     timestamptz not null default now(),
    payload         jsonb       not null,
    outcome         text,
    unique (provider, event_id)
);

-- A message about a payment names it (the attempt key, or manual:<payment_id>): a receipt
-- or a failure notice is owed until one exists.
alter table billing.messages add column payment_ref text;
create index on billing.messages (payment_ref) where payment_ref is not null;

-- 6. The business days collections has run. Days before the latest one are replays (a range
--    run again): what is learned from outside (a provider's answer to a poll, a changed
--    contract file) belongs to the latest day or later, never to a replayed one.
create table billing.collection_days (
    day             date        primary key,
    processed_at    timestamptz not null default now()
);
