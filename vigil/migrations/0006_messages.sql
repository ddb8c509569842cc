-- The message log of wave 2 (interfaces.md section 5, issue 8 point 10): tries and the last
-- error of a send, the contract a message is about (renewals) and the signed link it carries.
alter table billing.messages
    add column attempts integer not null default 0,
    add column last_error text,
    add column contract_id text,
    add column link text;

-- Keys name the invoice, the template and the channel (collections.md section 3).
update billing.messages
set dedupe_key = split_part(dedupe_key, ':', 2) || ':' || split_part(dedupe_key, ':', 3) || ':' || channel
where dedupe_key like 'invoice:%';

create index on billing.messages (invoice_id);
create index on billing.messages (status) where status = 'pending';
