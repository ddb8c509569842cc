-- Invoice identity and money storage (issue 8: points 4, 7 and 8).

-- 1. An invoice's key is its identity: client, kind, cycle and site, plus its first contract
--    (billing-rules section 8), no longer its issue and due dates, so a term edit re-issues
--    nothing. Old keys `client|kind|start|end|site|issue>due` become `...|site|first contract`.
with renamed as (
    select
        invoice_id,
        regexp_replace(invoice_key, '\|\d{4}-\d{2}-\d{2}>\d{4}-\d{2}-\d{2}$', '|' || contract_ids[1]) as new_key
    from billing.invoices
    where credit_for is null and invoice_key ~ '\|\d{4}-\d{2}-\d{2}>\d{4}-\d{2}-\d{2}$'
),
numbered as (
    select invoice_id, new_key, row_number() over (partition by new_key order by invoice_id) as n
    from renamed
)
update billing.invoices i
set invoice_key = numbered.new_key || repeat('+', (numbered.n - 1)::int)
from numbered
where i.invoice_id = numbered.invoice_id;

-- 2. Statuses of wave 2 (interfaces.md section 4), and why an unnumbered invoice was voided.
alter table billing.invoices drop constraint invoices_status_check;
alter table billing.invoices add constraint invoices_status_check check (status in
    ('held', 'issued', 'partially_paid', 'paid', 'delinquent', 'void', 'in_collections'));
alter table billing.invoices add column void_reason text;

-- 3. Amounts keep the scale the currency gives them (vigil/iso4217.csv: JPY 0, USD 2, BHD 3,
--    CLF 4): unconstrained numeric stores exactly what the engine rounded.
alter table billing.invoices
    alter column subtotal type numeric,
    alter column tax_total type numeric,
    alter column total type numeric;
alter table billing.invoice_lines alter column amount type numeric;
alter table billing.ledger_entries alter column amount type numeric;
alter table billing.payment_attempts alter column amount type numeric;
alter table billing.adjustments alter column amount type numeric;
