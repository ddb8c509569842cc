-- Renewals (collections.md section 7, issue 11): one row per contract that reached its
-- renewal window, written only by billing/renewals. Each step of the timeline is a business
-- date set once (offer, reminder, sales alert or auto-renew notice, decision); the offer as
-- sent (billed summary, current prices, the options with their terms) is kept whole, so a
-- decision takes exactly what the client was shown.
create table billing.renewals (
    contract_id         text        primary key,
    client_id           text        not null,
    currency            text        not null,
    -- the end date the timeline runs on (the contract's, followed until a decision)
    end_date            date        not null,
    auto_renew          boolean     not null,
    offered_on          date        not null,
    reminded_on         date,
    sales_alerted_on    date,
    auto_notice_on      date,
    decision            text        check (decision in ('accepted', 'declined', 'auto_renewed', 'expired')),
    decided_on          date,
    decided_by          text,
    decided_at          timestamptz,
    option              text        check (option in ('same', 'upgrade', 'longer_term')),
    new_contract_id     text        unique,
    -- the new contract version as written to raw.contract_documents (source 'renewals')
    new_terms           jsonb,
    -- the business day renewal_confirmation or renewal_declined went out
    decision_sent_on    date,
    -- the renewal chain: K-1 is renewed as K-1-R1, K-1-R1 as K-1-R2
    root_contract_id    text        not null,
    generation          integer     not null check (generation >= 1),
    offer               jsonb       not null,
    monthly_value       numeric     not null,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    check ((decision is null) = (decided_on is null)),
    check (case when decision in ('accepted', 'auto_renewed')
                then new_contract_id is not null and option is not null and new_terms is not null
                else new_contract_id is null end)
);
create index on billing.renewals (client_id);
create index on billing.renewals (end_date) where decision is null;
