-- Contracts of each client, merged from its documents and flattened; `terms` is the
-- contract object as accepted, the typed columns apply interfaces.md section 3's defaults.
-- A contract id both sources declare for one client: the contract YAML's when it prices
-- guard work (the YAML is authoritative for it), else the CRM's (where monitoring RMR is
-- maintained), else the YAML's. Across clients the newest declaration wins, as for sites.
--
-- Renewals (docs/renewals.md): the `renewals` document declares each accepted or
-- auto-renewed contract version (`renewal_of` the contract it renews). It gives way to the
-- same renewal declared by the contract file or the CRM: under the same id, or under
-- another id for the same client starting the same day on the same cycle and sharing a
-- recurring item, a device fee or a rated service (that contract bills it instead, never
-- both). The renewed contract ends the day before its renewal starts at the latest, so an
-- edit or a CRM that extends it in place never bills a day twice.
--
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
        documents.source,
        contract.value as terms,
        contract.ordinality as contract_position,
        case
            when documents.source = 'renewals' then 4
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

winners as (

    select *
    from ranked
    where declaration_rank = 1

),

renewals as (

    select
        client_id,
        terms,
        terms ->> 'id' as contract_id,
        terms ->> 'renewal_of' as renewal_of,
        (terms ->> 'start_date')::date as start_date

    from declared
    where source = 'renewals'

),

-- a renewal the contract file or the CRM declares under an id of its own
renewals_declared_elsewhere as (

    select distinct renewals.contract_id

    from renewals
    inner join winners as other
        on
            renewals.client_id = other.client_id
            and other.source <> 'renewals'
            and other.terms ->> 'id' <> renewals.contract_id
            and (other.terms ->> 'start_date')::date = renewals.start_date
            and other.terms ->> 'billing_cycle' = renewals.terms ->> 'billing_cycle'
    where
        exists (
            select 1
            from jsonb_array_elements(coalesce(other.terms -> 'recurring', '[]'::jsonb)) as theirs (item)
            cross join jsonb_array_elements(coalesce(renewals.terms -> 'recurring', '[]'::jsonb)) as ours (item)
            where
                theirs.item ->> 'code' = ours.item ->> 'code'
                and coalesce(theirs.item ->> 'site_id', '') = coalesce(ours.item ->> 'site_id', '')
        )
        or exists (
            select 1
            from jsonb_array_elements(coalesce(other.terms -> 'per_device', '[]'::jsonb)) as theirs (item)
            cross join jsonb_array_elements(coalesce(renewals.terms -> 'per_device', '[]'::jsonb)) as ours (item)
            where
                theirs.item ->> 'device_type' = ours.item ->> 'device_type'
                and coalesce(theirs.item ->> 'site_id', '') = coalesce(ours.item ->> 'site_id', '')
        )
        or exists (
            select 1
            from jsonb_array_elements(coalesce(other.terms -> 'rates', '[]'::jsonb)) as theirs (item)
            cross join jsonb_array_elements(coalesce(renewals.terms -> 'rates', '[]'::jsonb)) as ours (item)
            where theirs.item ->> 'service_type' = ours.item ->> 'service_type'
        )

),

-- the day before the earliest renewal of each renewed contract
renewed as (

    select
        renewal_of as contract_id,
        min(start_date) - 1 as last_day

    from renewals
    where renewal_of is not null
    group by renewal_of

),

in_force as (

    select
        winners.client_id,
        winners.terms ->> 'id' as contract_id,
        case
            when renewed.last_day < (winners.terms ->> 'end_date')::date
                then jsonb_set(winners.terms, '{end_date}', to_jsonb(renewed.last_day::text))
            else winners.terms
        end as terms

    from winners
    left join renewed on winners.terms ->> 'id' = renewed.contract_id
    left join renewals_declared_elsewhere
        on
            winners.source = 'renewals'
            and winners.terms ->> 'id' = renewals_declared_elsewhere.contract_id
    where renewals_declared_elsewhere.contract_id is null

),

renamed as (

    select
        ---- ids
        in_force.contract_id,
        in_force.client_id,

        ---- dates and cycle
        (in_force.terms ->> 'start_date')::date as start_date,
        (in_force.terms ->> 'end_date')::date as end_date,
        in_force.terms ->> 'billing_cycle' as billing_cycle,
        (in_force.terms ->> 'cycle_anchor')::date as cycle_anchor,
        coalesce(in_force.terms ->> 'timezone', first_sites.timezone) as timezone,
        coalesce((in_force.terms ->> 'auto_renew')::boolean, false) as auto_renew,
        coalesce((in_force.terms ->> 'payment_terms_days')::integer, 30) as payment_terms_days,
        coalesce((in_force.terms ->> 'issue_lead_days')::integer, 5) as issue_lead_days,

        ---- time rules
        coalesce((in_force.terms ->> 'increment_minutes')::integer, 15) as increment_minutes,
        coalesce(in_force.terms ->> 'basis', 'actual') as basis,
        coalesce((in_force.terms ->> 'schedule_tolerance_hours')::numeric, 1) as schedule_tolerance_hours,

        ---- prices
        (in_force.terms ->> 'patrol_visit_fee')::numeric as patrol_visit_fee,
        coalesce(jsonb_array_length(in_force.terms -> 'hour_tiers' -> 'tiers') > 0, false) as has_hour_tiers,
        coalesce(in_force.terms -> 'incidents', '{}'::jsonb) as incident_prices,

        ---- the whole object
        in_force.terms

    from in_force
    left join first_sites on in_force.client_id = first_sites.client_id

)

select * from renamed
