-- Contracts of each client, merged from its documents and flattened; `terms` is the
-- contract object as accepted, the typed columns apply interfaces.md section 3's defaults.
-- A contract id both sources declare for one client: the contract YAML's when it prices
-- guard work (the YAML is authoritative for it), else the CRM's (where monitoring RMR is
-- maintained), else the YAML's. Across clients the newest declaration wins, as for sites.
-- A table, not a view: it reads another staging model (views never stack).
{{ config(materialized='table', indexes=[{'columns': ['contract_id'], 'unique': True}, {'columns': ['client_id']}]) }}
with

documents as (

    select * from {{ ref('stg_inbox__contract_documents') }}

),

first_sites as (

    select
        client_id,
        timezone
    from {{ ref('stg_inbox__sites') }}
    where site_position = 1

),

declared as (

    select
        documents.client_id,
        documents.ingested_at,
        documents.document_id,
        contract.value as terms,
        contract.ordinality as contract_position,
        case
            when
                documents.source_precedence = 1
                and contract.value ?| array[
                    'rates', 'overtime', 'holidays', 'events', 'incidents', 'patrol_visit_fee',
                    'hour_tiers', 'minimum_shift_hours', 'basis', 'increment_minutes'
                ]
                then 1
            when documents.source_precedence = 2 then 2
            else 3
        end as declaration_precedence

    from documents
    cross join lateral jsonb_array_elements(
        coalesce(documents.document -> 'contracts', '[]'::jsonb)
    ) with ordinality as contract (value, ordinality)

),

per_client as (

    select
        *,
        row_number() over (
            partition by client_id, terms ->> 'id'
            order by declaration_precedence asc, contract_position asc
        ) as client_rank

    from declared

),

ranked as (

    select
        *,
        row_number() over (
            partition by terms ->> 'id'
            order by ingested_at desc, document_id desc, contract_position asc
        ) as declaration_rank

    from per_client
    where client_rank = 1

),

renamed as (

    select
        ---- ids
        ranked.terms ->> 'id' as contract_id,
        ranked.client_id,

        ---- dates and cycle
        (ranked.terms ->> 'start_date')::date as start_date,
        (ranked.terms ->> 'end_date')::date as end_date,
        ranked.terms ->> 'billing_cycle' as billing_cycle,
        (ranked.terms ->> 'cycle_anchor')::date as cycle_anchor,
        coalesce(ranked.terms ->> 'timezone', first_sites.timezone) as timezone,
        coalesce((ranked.terms ->> 'auto_renew')::boolean, false) as auto_renew,
        coalesce((ranked.terms ->> 'payment_terms_days')::integer, 30) as payment_terms_days,
        coalesce((ranked.terms ->> 'issue_lead_days')::integer, 5) as issue_lead_days,

        ---- time rules
        coalesce((ranked.terms ->> 'increment_minutes')::integer, 15) as increment_minutes,
        coalesce(ranked.terms ->> 'basis', 'actual') as basis,
        coalesce((ranked.terms ->> 'schedule_tolerance_hours')::numeric, 1) as schedule_tolerance_hours,

        ---- prices
        (ranked.terms ->> 'patrol_visit_fee')::numeric as patrol_visit_fee,
        coalesce(jsonb_array_length(ranked.terms -> 'hour_tiers' -> 'tiers') > 0, false) as has_hour_tiers,
        coalesce(ranked.terms -> 'incidents', '{}'::jsonb) as incident_prices,

        ---- the whole object
        ranked.terms

    from ranked
    left join first_sites on ranked.client_id = first_sites.client_id
    where ranked.declaration_rank = 1

)

select * from renamed
