-- Hourly rates of the contracts in force: one row per entry of `rates`.
-- A table, not a view: it reads another staging model (views never stack).
{{ config(materialized='table', indexes=[{'columns': ['contract_id', 'service_type']}]) }}
with

contracts as (

    select * from {{ ref('stg_inbox__contracts') }}

),

renamed as (

    select
        ---- ids
        contracts.contract_id || '#' || rate.ordinality as contract_rate_id,
        contracts.contract_id,
        contracts.client_id,

        ---- attributes
        rate.value ->> 'service_type' as service_type,
        nullif(rate.value ->> 'site_id', '') as site_id,
        (rate.value ->> 'rate')::numeric as rate,
        (rate.value ->> 'effective_from')::date as effective_from,
        rate.ordinality as rate_position

    from contracts
    cross join lateral jsonb_array_elements(
        coalesce(contracts.terms -> 'rates', '[]'::jsonb)
    ) with ordinality as rate (value, ordinality)

)

select * from renamed
