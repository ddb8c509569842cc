-- billing-rules sections 2 and 5: each incident response (selected version, generic
-- copies of vendor alarms dropped: int_cross_feed_duplicates) at a
-- declared site, with its owning client, site-local service date (of the response
-- start) and the contract active that day that prices its classification.
with

incidents as (

    select * from {{ ref('int_incidents_deduplicated') }}

),

sites as (

    select * from {{ ref('stg_inbox__sites') }}

),

contracts as (

    select * from {{ ref('stg_inbox__contracts') }}

),

located as (

    select
        incidents.*,
        sites.client_id,
        sites.timezone as site_timezone,
        (incidents.response_started_at at time zone sites.timezone)::date as service_date

    from incidents
    inner join sites on incidents.site_id = sites.site_id

),

candidates as (

    select
        located.source_ref,
        contracts.contract_id,
        case when contracts.incident_prices ? located.classification then 1 end as price_rank

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
