-- Invoices out (issue 10): short links for SMS, portal notices, delivery events reported by
-- the providers' webhooks, and addresses finance must correct.

-- An SMS carries /portal/s/<code> instead of a long signed link. The code is random (72
-- bits) and only names the portal page to open; that page's own signed link (inside
-- `target`) still decides, so a code never outlives or widens what its link allows.
create table billing.short_links (
    code            text        primary key,
    client_id       text        not null,
    target          text        not null,
    expires_on      date        not null,
    created_at      timestamptz not null default now()
);

-- The portal channel: a notice in the client's portal (plus an email pointing to it).
-- `dismissed_on` is the business day the client dismissed it.
create table billing.portal_notices (
    notice_id       bigserial   primary key,
    client_id       text        not null,
    invoice_id      bigint      references billing.invoices,
    message_key     text        not null unique,
    title           text        not null,
    posted_on       date        not null,
    dismissed_on    date
);
create index on billing.portal_notices (client_id) where dismissed_on is null;

-- Delivery events from SendGrid and Twilio, attached to their message. Vigil's own events
-- (sent, failed, interrupted) have no provider. A provider's event id is recorded once:
-- SendGrid's sg_event_id, Twilio's `<MessageSid>:<MessageStatus>` (Twilio sends no id).
-- occurred_at is the provider's time when it gives one; for_date the business day the
-- event arrived (collections.md section 5).
alter table billing.message_events
    add column event_no bigserial,
    add column provider text,
    add column provider_event_id text,
    add column for_date date;
alter table billing.message_events add primary key (event_no);
create unique index message_events_provider_event on billing.message_events (provider, provider_event_id)
    where provider_event_id is not null;
create index on billing.message_events (message_id);

-- The furthest delivery state a provider reported (it never moves back): delivered, then a
-- failure report (bounced, dropped, failed), then opened, then clicked.
alter table billing.messages
    add column delivery_status text check (delivery_status in
        ('delivered', 'bounced', 'dropped', 'failed', 'opened', 'clicked')),
    add column delivery_status_at timestamptz;
create index on billing.messages (provider_message_id) where provider_message_id is not null;

-- An address a provider refused (a hard bounce, an invalid or unreachable number): finance
-- corrects it in the contract file and clears the flag. One open flag per address.
create table billing.address_flags (
    flag_id         bigserial   primary key,
    client_id       text        not null,
    channel         text        not null check (channel in ('email', 'sms')),
    address         text        not null,
    reason          text        not null,
    flagged_on      date        not null,
    message_id      bigint,     -- the message the provider refused (no foreign key: flags outlive a message log cleanup)
    provider_event_id text,
    cleared_on      date,
    cleared_by      text,
    cleared_note    text
);
create unique index address_flags_open on billing.address_flags (client_id, channel, address)
    where cleared_on is null;
