-- billing-rules sections 2-3: each shift (selected version) at a declared site, with its
-- owning client, site-local service date, contract (null when none or several match)
-- and the interval it would bill, rounded to the contract's increment. Incremental: the
-- shifts int_shift_versions recomputed in this build replace their rows (a contract change
-- rebuilds everything: the orchestration runs a full build).
{{ config(
    materialized='incremental',
    unique_key='source_ref',
    incremental_strategy='append',
    pre_hook="{{ delete_changed('source_ref', ref('int_shift_versions')) }}",
    indexes=[
        {'columns': ['source_ref'], 'unique': True},
        {'columns': ['changed_build']},
        {'columns': ['guard_id', 'billed_start_at']},
        {'columns': ['site_id', 'billed_start_at']},
        {'columns': ['service_date']},
        {'columns': ['billed_minutes']},
        {'columns': ['guard_id', 'check_in_at']},
        {'columns': ['interval_minutes']},
    ],
) }}
with

shifts as (

    select *
    from {{ ref('int_shift_versions') }}
    where
        site_declared
        {% if is_incremental() %}and {{ changed_in_build() }}{% endif %}

),

sites as (

    select * from {{ ref('stg_inbox__sites') }}

),

contracts as (

    select * from {{ ref('stg_inbox__contracts') }}

),

rates as (

    select * from {{ ref('stg_inbox__contract_rates') }}

),

located as (

    select
        shifts.*,
        sites.client_id,
        sites.timezone as site_timezone,
        (shifts.check_in_at at time zone sites.timezone)::date as service_date,
        coalesce(shifts.check_out_at > shifts.check_in_at, false) as has_valid_interval

    from shifts
    inner join sites on shifts.site_id = sites.site_id

),

-- the owning client's contracts active on the service date, ranked by how they price
-- the shift: an hourly rate for its site, for any site (or hour tiers, which price every
-- guard minute of the contract), or (patrol shifts only) a patrol visit fee
candidates as (

    select
        located.source_ref,
        contracts.contract_id,
        coalesce(
            min(
                case
                    when rates.site_id = located.site_id then 1
                    when rates.site_id is null and rates.contract_rate_id is not null then 2
                end
            ),
            case
                when contracts.has_hour_tiers then 2
                when located.service_type = 'patrol' and contracts.patrol_visit_fee is not null then 3
            end
        ) as price_rank

    from located
    inner join contracts
        on
            located.client_id = contracts.client_id
            and located.service_date between contracts.start_date and contracts.end_date
    left join rates
        on
            contracts.contract_id = rates.contract_id
            and located.service_type = rates.service_type
            and (located.site_id = rates.site_id or rates.site_id is null)
            and (rates.effective_from is null or located.service_date >= rates.effective_from)
    group by
        located.source_ref, located.site_id, located.service_type,
        contracts.contract_id, contracts.has_hour_tiers, contracts.patrol_visit_fee

),

matches as (

    {{ resolve_contract_match('candidates') }}

),

matched as (

    select
        located.*,
        {{ contract_match_columns('matches') }}

    from located
    left join matches on located.source_ref = matches.source_ref

),

with_terms as (

    select
        matched.*,
        coalesce(contracts.increment_minutes, 15) as increment_minutes,
        coalesce(contracts.basis, 'actual') as basis,
        coalesce(contracts.schedule_tolerance_hours, 1) as schedule_tolerance_hours,
        coalesce(
            matched.scheduled_start_at is not null
            and matched.scheduled_end_at > matched.scheduled_start_at,
            false
        ) as has_valid_schedule

    from matched
    left join contracts on matched.contract_id = contracts.contract_id

),

billed as (

    select
        with_terms.*,
        case
            when not with_terms.has_valid_interval then null
            when with_terms.basis = 'scheduled' and with_terms.has_valid_schedule
                then {{ round_to_increment('scheduled_start_at', 'site_timezone', 'increment_minutes') }}
            else {{ round_to_increment('check_in_at', 'site_timezone', 'increment_minutes') }}
        end as billed_start_at,
        case
            when not with_terms.has_valid_interval then null
            when with_terms.basis = 'scheduled' and with_terms.has_valid_schedule
                then {{ round_to_increment('scheduled_end_at', 'site_timezone', 'increment_minutes') }}
            else {{ round_to_increment('check_out_at', 'site_timezone', 'increment_minutes') }}
        end as billed_end_at

    from with_terms

)

select
    *,
    greatest(extract(epoch from billed_end_at - billed_start_at) / 60, 0)::integer as billed_minutes,
    -- raw check-in to check-out: with billed_minutes, its largest value bounds how far back a
    -- reader looks for the shifts around an instant (an index answers the maximum)
    ceil(greatest(extract(epoch from coalesce(check_out_at, check_in_at) - check_in_at) / 60, 0))::integer
        as interval_minutes

from billed
