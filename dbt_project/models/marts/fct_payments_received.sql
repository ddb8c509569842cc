-- Payments received outside the provider (interfaces.md section 2a), every delivered
-- version. billing/collections/received.py applies each payment_id once, its first
-- version, on the business day it was received; a later version with other content is
-- refused (the same payment_id twice is applied once). The currency defaults to the
-- client's; an unknown client has none here and is refused where the payment is applied.
with

payments as (

    select * from {{ ref('stg_inbox__payments_received') }}

),

clients as (

    select * from {{ ref('dim_clients') }}

)

select
    payments.payment_id,
    payments.version_number,
    payments.version_number = 1 as is_first_version,
    payments.client_id,
    clients.client_id is not null as is_known_client,
    payments.invoice_number,
    payments.amount,
    coalesce(payments.currency, clients.currency) as currency,
    payments.method,
    payments.reference,
    payments.received_on,
    payments.source_file,
    payments.source_line,
    payments.content_hash

from payments
left join clients
    on payments.client_id = clients.client_id
