-- billing-rules section 10 [ext], overtime_without_incident before the incident test: a
-- guard's overtime per contract, site and contract-local date, recomputed the way section 4
-- counts it on the billed (rounded) intervals split at contract-local midnight:
--   daily part (policies daily, daily_and_weekly, california): a day's minutes beyond daily_hours;
--   weekly part (policies weekly, daily_and_weekly, california): the minutes after the
--     weekly_hours-th regular hour of the workweek (workweek_start, default monday), counting
--     only the minutes the daily part left regular.
-- A day's overtime minutes are its last minutes in time order; they are attributed to the
-- shifts (and so the sites) that worked them. Not modelled here (the rating engine's job):
-- california's 7th-day rule, day_boundary shift_start, overlap trimming.
-- Incremental: the workweeks int_guard_weeks_to_judge names are recomputed whole.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where (guard_id, contract_id, week_start) in"
        " (select guard_id, contract_id, week_start from {{ ref('int_guard_weeks_to_judge') }})"
        "{% else %}select 1{% endif %}",
    indexes=[{'columns': ['guard_id', 'contract_id', 'week_start']}, {'columns': ['site_id', 'local_date']}],
) }}
with

policies as (

    select * from {{ ref('int_overtime_policies') }}

),

matched as (

    select * from {{ ref('int_shifts_matched_to_contracts') }}

),

longest as (

    select coalesce(max(billed_minutes), 0) as minutes from matched

),

weeks as (

    select
        weeks.guard_id,
        weeks.week_start,
        policies.contract_id,
        policies.contract_timezone,
        policies.policy,
        policies.daily_minutes,
        policies.weekly_minutes,
        weeks.week_start::timestamp at time zone policies.contract_timezone as week_start_at,
        (weeks.week_start + 7)::timestamp at time zone policies.contract_timezone as week_end_at

    from {{ ref('int_guard_weeks_to_judge') }} as weeks
    inner join policies on weeks.contract_id = policies.contract_id

),

billed as (

    select
        matched.source_ref,
        matched.site_id,
        matched.client_id,
        matched.billed_start_at,
        matched.billed_end_at,
        weeks.*

    from weeks
    inner join matched
        on
            weeks.guard_id = matched.guard_id
            and weeks.contract_id = matched.contract_id
            and weeks.week_end_at > matched.billed_start_at
            and matched.billed_start_at >= weeks.week_start_at - (select minutes from longest) * interval '1 minute'
            and weeks.week_start_at < matched.billed_end_at
    where matched.billed_end_at > matched.billed_start_at

),

-- billed intervals split at contract-local midnight, the days of the week only
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
            greatest((billed.billed_start_at at time zone billed.contract_timezone)::date, billed.week_start)::timestamp,
            least(
                ((billed.billed_end_at - interval '1 microsecond') at time zone billed.contract_timezone)::date,
                billed.week_start + 6
            )::timestamp,
            interval '1 day'
        ) as series (day)
    ) as day

),

guard_days as (

    select
        guard_id,
        contract_id,
        week_start,
        local_date,
        min(policy) as policy,
        min(daily_minutes) as daily_minutes,
        min(weekly_minutes) as weekly_minutes,
        sum(segment_minutes) as day_minutes

    from segments
    where segment_minutes > 0
    group by guard_id, contract_id, week_start, local_date

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

)

select
    guard_id,
    contract_id,
    week_start,
    site_id,
    local_date,
    min(client_id) as client_id,
    min(policy) as policy,
    sum(overtime_minutes) as overtime_minutes,
    array_agg(distinct source_ref order by source_ref) as evidence

from segment_overtime
where overtime_minutes > 0
group by guard_id, contract_id, week_start, site_id, local_date
