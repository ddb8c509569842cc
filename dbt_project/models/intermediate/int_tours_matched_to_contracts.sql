-- billing-rules sections 2 and 6: each patrol tour (selected version) at a declared
-- site, with its owning client, site-local service date (of the tour start) and the
-- contract active that day with a patrol visit fee.
with

tours as (

    {{ selected_versions(ref('stg_inbox__patrol_tours')) }}

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
    {{ contract_match_columns('matches') }}

from located
left join matches on located.source_ref = matches.source_ref
