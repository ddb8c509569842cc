with

clients as (

    select * from {{ ref('stg_inbox__clients') }}

)

select
    client_id,
    client_name,
    email,
    phone,
    preferred_channel,
    autopay,
    payment_method,
    grouping,
    currency

from clients
