-- The finance console (interfaces.md section 7, issue 12): its users, their server-side
-- sessions, sign-in attempts (rate limiting) and the audit log of every change.
create schema if not exists console;

-- `vigil users add NAME --role finance|viewer`: the password only as a salted slow hash
-- (scrypt, vigil_app/accounts.py).
create table console.users (
    user_name       text        primary key check (user_name ~ '^[A-Za-z0-9._@-]{1,64}$'),
    role            text        not null check (role in ('finance', 'viewer')),
    password_hash   text        not null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

-- A signed-in browser: the cookie carries a signed random id, the table only its sha256, so
-- a leaked table opens nothing and a revoked row ends the session at once.
create table console.sessions (
    session_hash    text        primary key,
    user_name       text        not null references console.users on delete cascade,
    client_address  text,
    created_at      timestamptz not null default now(),
    last_seen_at    timestamptz not null default now(),
    expires_at      timestamptz not null,
    revoked_at      timestamptz
);
create index on console.sessions (user_name) where revoked_at is null;

-- Every sign-in attempt, kept for the rate limits (per account and per client address).
create table console.sign_in_attempts (
    attempt_id      bigserial   primary key,
    user_name       text        not null,
    client_address  text        not null,
    succeeded       boolean     not null,
    attempted_at    timestamptz not null default now()
);
create index on console.sign_in_attempts (user_name, attempted_at);
create index on console.sign_in_attempts (client_address, attempted_at);

-- Every change made through the console or the command line: who, when (business date and
-- wall clock), what, and the state before and after.
create table console.audit_log (
    audit_id        bigserial   primary key,
    actor           text        not null,
    via             text        not null check (via in ('console', 'command line')),
    action          text        not null,
    subject         text        not null,
    before          jsonb,
    after           jsonb,
    business_date   date        not null,
    recorded_at     timestamptz not null default now()
);
create index on console.audit_log (recorded_at desc);

-- A review is dated by the business clock (VIGIL_TODAY in tests; vigil_app/review.py sets
-- it); reviewed_at stays the wall clock. Earlier reviews get their UTC wall-clock date.
alter table billing.finding_reviews
    add column reviewed_on date not null default (now() at time zone 'UTC')::date;
update billing.finding_reviews set reviewed_on = (reviewed_at at time zone 'UTC')::date;

-- The monthly KPIs as the Dagster asset kpis/monthly last computed them (billing/kpis.py).
create table billing.monthly_kpis (
    month               date        primary key,
    invoices_issued     integer     not null,
    invoices_corrected  integer     not null,
    billing_accuracy    numeric,
    service_to_invoice_days numeric,
    days_to_pay         numeric,
    payments            integer     not null,
    autopay_payments    integer     not null,
    autopay_rate        numeric,
    contracts_ending    integer     not null,
    contracts_renewed   integer     not null,
    renewal_rate        numeric,
    leakage_records     integer     not null,
    leakage_hours       numeric     not null,
    computed_at         timestamptz not null default now()
);
