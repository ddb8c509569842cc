{{ config(schema='intermediate', materialized='view') }}
-- billing-rules section 10 [ext]: overtime_without_incident. Overtime is recomputed here the
-- way section 4 counts it, per guard and contract, on the billed (rounded) intervals split at
-- contract-local midnight:
--   daily part (policies daily, daily_and_weekly, california): a day's minutes beyond daily_hours;
--   weekly part (policies weekly, daily_and_weekly, california): the minutes after the
--     weekly_hours-th regular hour of the workweek (workweek_start, default monday), counting
--     only the minutes the daily part left regular.
-- A day's overtime minutes are its last minutes in time order; they are attributed to the
-- shifts (and so the sites) that worked them. A finding per guard, site and day whose
-- attributed overtime is > 0 while no incident was recorded at that site with that
-- site-local service date. Evidence: the shifts carrying the overtime.
-- Not modelled here (the rating engine's job): california's 7th-day rule, day_boundary
-- shift_start, overlap trimming between a guard's overlapping shifts.
with

policies as (

    select
        contract_id,
        timezone as contract_timezone,
        coalesce(terms -> 'overtime' ->> 'policy', 'none') as policy,
        coalesce((terms -> 'overtime' ->> 'daily_hours')::numeric, 8) * 60 as daily_minutes,
        coalesce((terms -> 'overtime' ->> 'weekly_hours')::numeric, 40) * 60 as weekly_minutes,
        case lower(coalesce(terms -> 'overtime' ->> 'workweek_start', 'monday'))
            when 'monday' then 1 when 'tuesday' then 2 when 'wednesday' then 3 when 'thursday' then 4
            when 'friday' then 5 when 'saturday' then 6 when 'sunday' then 7 else 1
        end as workweek_isodow

    from {{ ref('stg_inbox__contracts') }}
    where coalesce(terms -> 'overtime' ->> 'policy', 'none') <> 'none'

),

billed as (

    select
        shifts.source_ref,
        shifts.guard_id,
        shifts.site_id,
        shifts.client_id,
        shifts.contract_id,
        shifts.billed_start_at,
        shifts.billed_end_at,
        policies.contract_timezone,
        policies.policy,
        policies.daily_minutes,
        policies.weekly_minutes,
        policies.workweek_isodow

    from {{ ref('int_shifts_matched_to_contracts') }} as shifts
    inner join policies on shifts.contract_id = policies.contract_id
    where shifts.billed_end_at > shifts.billed_start_at

),

-- billed intervals split at contract-local midnight
segments as (

    select
        billed.*,
        day.local_date,
        extract(
            epoch from
            least(billed.billed_end_at, (day.local_date + 1)::timestamp at time zone billed.contract_timezone)
            - greatest(billed.billed_start_at, day.local_date::timestamp at time zone billed.contract_timezone)
        ) / 60 as segment_minutes,
        greatest(billed.billed_start_at, day.local_date::timestamp at time zone billed.contract_timezone)
            as segment_start_at

    from billed
    cross join lateral (
        select series.day::date as local_date
        from generate_series(
            (billed.billed_start_at at time zone billed.contract_timezone)::date::timestamp,
            ((billed.billed_end_at - interval '1 microsecond') at time zone billed.contract_timezone)::date::timestamp,
            interval '1 day'
        ) as series (day)
    ) as day

),

guard_days as (

    select
        guard_id,
        contract_id,
        local_date,
        min(policy) as policy,
        min(daily_minutes) as daily_minutes,
        min(weekly_minutes) as weekly_minutes,
        local_date - ((extract(isodow from local_date)::integer - min(workweek_isodow) + 7) % 7) as week_start,
        sum(segment_minutes) as day_minutes

    from segments
    where segment_minutes > 0
    group by guard_id, contract_id, local_date

),

daily_part as (

    select
        *,
        case
            when policy in ('daily', 'daily_and_weekly', 'california')
                then greatest(day_minutes - daily_minutes, 0)
            else 0
        end as daily_overtime

    from guard_days

),

running as (

    select
        *,
        sum(day_minutes - daily_overtime) over (
            partition by guard_id, contract_id, week_start
            order by local_date
        ) as regular_through_day

    from daily_part

),

overtime_days as (

    select
        *,
        daily_overtime
        + case
            when policy in ('weekly', 'daily_and_weekly', 'california')
                then
                    greatest(regular_through_day - weekly_minutes, 0)
                    - greatest(regular_through_day - (day_minutes - daily_overtime) - weekly_minutes, 0)
            else 0
        end as overtime_minutes

    from running

),

-- the day's overtime minutes are its last ones: attribute them to the segments that hold them
attributed as (

    select
        segments.*,
        overtime_days.overtime_minutes as day_overtime_minutes,
        overtime_days.day_minutes,
        sum(segments.segment_minutes) over (
            partition by segments.guard_id, segments.contract_id, segments.local_date
            order by segments.segment_start_at, segments.source_ref
        ) as minutes_through_segment

    from segments
    inner join overtime_days
        on
            segments.guard_id = overtime_days.guard_id
            and segments.contract_id = overtime_days.contract_id
            and segments.local_date = overtime_days.local_date
    where
        segments.segment_minutes > 0
        and overtime_days.overtime_minutes > 0

),

segment_overtime as (

    select
        *,
        greatest(
            minutes_through_segment
            - greatest(minutes_through_segment - segment_minutes, day_minutes - day_overtime_minutes),
            0
        ) as overtime_minutes

    from attributed

),

site_days as (

    select
        guard_id,
        site_id,
        local_date,
        min(client_id) as client_id,
        min(contract_id) as contract_id,
        min(policy) as policy,
        sum(overtime_minutes) as overtime_minutes,
        array_agg(distinct source_ref order by source_ref) as evidence

    from segment_overtime
    where overtime_minutes > 0
    group by guard_id, site_id, local_date

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
