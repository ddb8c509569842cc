{{ config(materialized='ephemeral') }}
-- billing-rules section 10 [ext]: overtime_without_incident. A guard's overtime at a site on
-- a day (int_overtime_site_days: recomputed per contract policy on the billed intervals,
-- attributed to the shifts that hold the day's last minutes) while no incident was recorded
-- at that site with that site-local service date. Evidence: the shifts carrying the overtime.
with

candidates as (

    select * from {{ ref('int_overtime_site_days') }}

),

-- one guard, site and day across its contracts
totals as (

    select
        guard_id,
        site_id,
        local_date,
        min(client_id) as client_id,
        min(contract_id) as contract_id,
        min(policy) as policy,
        sum(overtime_minutes) as overtime_minutes

    from candidates
    group by guard_id, site_id, local_date

),

refs as (

    select
        candidates.guard_id,
        candidates.site_id,
        candidates.local_date,
        array_agg(distinct evidence_ref.ref order by evidence_ref.ref) as evidence

    from candidates
    cross join lateral unnest(candidates.evidence) as evidence_ref (ref)
    group by candidates.guard_id, candidates.site_id, candidates.local_date

),

site_days as (

    select
        totals.*,
        refs.evidence

    from totals
    inner join refs
        on
            totals.guard_id = refs.guard_id
            and totals.site_id = refs.site_id
            and totals.local_date = refs.local_date

),

incident_days as (

    select distinct
        site_id,
        service_date
    from {{ ref('int_incidents_matched_to_contracts') }}

)

select
    'overtime_without_incident' as type,
    site_days.client_id,
    site_days.site_id,
    site_days.contract_id,
    site_days.local_date as service_date,
    site_days.evidence,
    format(
        'Guard %s billed %s h of overtime at %s on %s (contract %s, overtime policy %s) and no incident was recorded at the site that day.',
        site_days.guard_id,
        round(site_days.overtime_minutes::numeric / 60, 2),
        site_days.site_id,
        site_days.local_date,
        site_days.contract_id,
        site_days.policy
    ) as message

from site_days
where not exists (
    select 1
    from incident_days
    where
        incident_days.site_id = site_days.site_id
        and incident_days.service_date = site_days.local_date
)
