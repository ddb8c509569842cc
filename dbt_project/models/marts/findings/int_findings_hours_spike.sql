{{ config(schema='intermediate', materialized='view') }}
-- billing-rules section 10: hours_spike. A site's billed guard hours on a site-local date
-- above median + max(3 x MAD, 1 h) of that site's days with hours among the 28 days
-- before (at least 14 such days), on a day with no incident at the site.
{%- set window_days = var('hours_spike_window_days', 28) %}
{%- set min_history_days = var('hours_spike_min_history_days', 14) %}

with

billed_shifts as (

    select *
    from {{ ref('int_shifts_matched_to_contracts') }}
    where
        contract_id is not null
        and billed_end_at > billed_start_at

),

incident_days as (

    select distinct
        site_id,
        service_date
    from {{ ref('int_incidents_matched_to_contracts') }}

),

-- billed minutes split at site-local midnight
shift_days as (

    select
        billed_shifts.source_ref,
        billed_shifts.site_id,
        billed_shifts.client_id,
        day.local_date,
        least(billed_shifts.billed_end_at, (day.local_date + 1)::timestamp at time zone billed_shifts.site_timezone)
        - greatest(billed_shifts.billed_start_at, day.local_date::timestamp at time zone billed_shifts.site_timezone)
            as billed_part

    from billed_shifts
    cross join lateral (
        select series.day::date as local_date
        from generate_series(
            (billed_shifts.billed_start_at at time zone billed_shifts.site_timezone)::date::timestamp,
            (
                (billed_shifts.billed_end_at - interval '1 microsecond') at time zone billed_shifts.site_timezone
            )::date::timestamp,
            interval '1 day'
        ) as series (day)
    ) as day

),

site_days as (

    select
        site_id,
        local_date as service_date,
        min(client_id) as client_id,
        sum(extract(epoch from billed_part)) / 3600.0 as billed_hours,
        array_agg(distinct source_ref order by source_ref) as evidence

    from shift_days
    group by site_id, local_date
    having sum(extract(epoch from billed_part)) > 0

),

history as (

    select
        site_days.site_id,
        site_days.service_date,
        previous.billed_hours as previous_hours

    from site_days
    inner join site_days as previous
        on
            site_days.site_id = previous.site_id
            and previous.service_date between site_days.service_date - {{ window_days }}
            and site_days.service_date - 1

),

medians as (

    select
        site_id,
        service_date,
        count(*) as history_days,
        percentile_cont(0.5) within group (order by previous_hours) as median_hours

    from history
    group by site_id, service_date

),

deviations as (

    select
        history.site_id,
        history.service_date,
        percentile_cont(0.5) within group (
            order by abs(history.previous_hours - medians.median_hours)
        ) as mad_hours

    from history
    inner join medians on history.site_id = medians.site_id and history.service_date = medians.service_date
    group by history.site_id, history.service_date

),

judged as (

    select
        site_days.*,
        medians.history_days,
        medians.median_hours,
        deviations.mad_hours,
        medians.median_hours + greatest(3 * deviations.mad_hours, 1) as threshold_hours

    from site_days
    inner join medians on site_days.site_id = medians.site_id and site_days.service_date = medians.service_date
    inner join deviations on site_days.site_id = deviations.site_id and site_days.service_date = deviations.service_date
    where medians.history_days >= {{ min_history_days }}

)

select
    'hours_spike' as type,
    judged.client_id,
    judged.site_id,
    null::text as contract_id,
    judged.service_date,
    judged.evidence,
    format(
        'Site %s billed %s guard hours on %s, above its usual %s h (median of %s days) + max(3 x MAD %s h, 1 h), '
        || 'with no incident that day.',
        judged.site_id,
        round(judged.billed_hours::numeric, 2),
        judged.service_date,
        round(judged.median_hours::numeric, 2),
        judged.history_days,
        round(judged.mad_hours::numeric, 2)
    ) as message

from judged
where
    judged.billed_hours > judged.threshold_hours
    and not exists (
        select 1
        from incident_days
        where
            incident_days.site_id = judged.site_id
            and incident_days.service_date = judged.service_date
    )
