-- billing-rules sections 2 and 6: each patrol tour (selected version) at a declared
-- site, with its owning client, site-local service date (of the tour start) and the
-- contract active that day with a patrol visit fee. Incremental like
-- int_shifts_matched_to_contracts.
{{ config(
    materialized='incremental',
    unique_key='source_ref',
    incremental_strategy='append',
    pre_hook="{{ delete_changed('source_ref', ref('int_patrol_tour_versions')) }}",
    indexes=[
        {'columns': ['source_ref'], 'unique': True},
        {'columns': ['changed_build']},
        {'columns': ['guard_id', 'site_id', 'started_at']},
        {'columns': ['service_date']},
        {'columns': ['duration_minutes']},
    ],
    post_hook=[
        "create index if not exists {{ this.name }}_findings on {{ this }} (source_ref)"
        " where match_status <> 'matched' or checkpoints_scanned < checkpoints_required",
    ],
) }}
with

tours as (

    select *
    from {{ ref('int_patrol_tour_versions') }}
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

located as (

    select
        tours.*,
        sites.client_id,
        sites.timezone as site_timezone,
        (tours.started_at at time zone sites.timezone)::date as service_date

    from tours
    inner join sites on tours.site_id = sites.site_id

),

candidates as (

    select
        located.source_ref,
        contracts.contract_id,
        case when contracts.patrol_visit_fee is not null then 1 end as price_rank

    from located
    inner join contracts
        on
            located.client_id = contracts.client_id
            and located.service_date between contracts.start_date and contracts.end_date

),

matches as (

    {{ resolve_contract_match('candidates') }}

)

select
    located.*,
    {{ contract_match_columns('matches') }},
    ceil(greatest(extract(epoch from coalesce(located.completed_at, located.started_at) - located.started_at) / 60, 0))
    ::integer as duration_minutes

from located
left join matches on located.source_ref = matches.source_ref
