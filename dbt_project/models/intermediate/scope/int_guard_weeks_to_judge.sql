-- The workweeks (guard, contract with an overtime policy, first day of its workweek) whose
-- overtime (int_overtime_site_days) this build recomputes: every contract-local week a
-- version of a recomputed shift touches, for each overtime contract of its site's client.
{{ config(indexes=[{'columns': ['guard_id', 'contract_id', 'week_start']}]) }}
with

policies as (

    select * from {{ ref('int_overtime_policies') }}

),

spans as (

    select
        spans.guard_id,
        spans.first_at,
        spans.last_at,
        policies.contract_id,
        policies.contract_timezone,
        policies.workweek_isodow

    from {{ ref('int_shift_version_spans') }} as spans
    inner join {{ ref('stg_inbox__sites') }} as sites on spans.site_id = sites.site_id
    inner join policies on sites.client_id = policies.client_id

)

select distinct
    spans.guard_id,
    spans.contract_id,
    day.local_date - ((extract(isodow from day.local_date)::integer - spans.workweek_isodow + 7) % 7)
        as week_start

from spans
cross join lateral (
    select series.day::date as local_date
    from generate_series(
        ((spans.first_at at time zone spans.contract_timezone)::date - 1)::timestamp,
        ((spans.last_at at time zone spans.contract_timezone)::date + 1)::timestamp,
        interval '1 day'
    ) as series (day)
) as day
