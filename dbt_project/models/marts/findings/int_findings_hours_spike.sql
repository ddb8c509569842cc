{{ config(materialized='ephemeral') }}
-- billing-rules section 10: hours_spike. A site's billed guard hours on a site-local date
-- above median + max(3 x MAD, 1 h) of that site's days with hours among the 28 days
-- before (at least 14 such days; int_hours_spike_candidates), on a day with no incident at
-- the site.
with

candidates as (

    select * from {{ ref('int_hours_spike_candidates') }}

),

incident_days as (

    select distinct
        site_id,
        service_date
    from {{ ref('int_incidents_matched_to_contracts') }}

)

select
    'hours_spike' as type,
    candidates.client_id,
    candidates.site_id,
    null::text as contract_id,
    candidates.service_date,
    candidates.evidence,
    format(
        'Site %s billed %s guard hours on %s, above its usual %s h (median of %s days) + max(3 x MAD %s h, 1 h), '
        || 'with no incident that day.',
        candidates.site_id,
        round(candidates.billed_hours::numeric, 2),
        candidates.service_date,
        round(candidates.median_hours::numeric, 2),
        candidates.history_days,
        round(candidates.mad_hours::numeric, 2)
    ) as message

from candidates
where not exists (
    select 1
    from incident_days
    where
        incident_days.site_id = candidates.site_id
        and incident_days.service_date = candidates.service_date
)
