with

contracts as (

    select * from {{ ref('stg_inbox__contracts') }}

)

select
    contract_id,
    client_id,
    start_date,
    end_date,
    billing_cycle,
    terms

from contracts
