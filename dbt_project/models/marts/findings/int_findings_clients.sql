{{ config(materialized='ephemeral') }}
-- billing-rules section 10: missing_payment_method, a client on auto-pay with nothing to charge.
with

clients as (

    select * from {{ ref('stg_inbox__clients') }}

)

select
    'missing_payment_method' as type,
    client_id,
    null::text as site_id,
    null::text as contract_id,
    null::date as service_date,
    array[source_ref] as evidence,
    format(
        'Client %s has autopay: true but no payment_method; its invoices cannot be charged automatically.',
        client_id
    ) as message

from clients
where
    autopay
    and payment_method is null
