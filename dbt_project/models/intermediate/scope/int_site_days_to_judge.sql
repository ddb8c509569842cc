-- The site-days whose billed guard hours (int_site_day_hours) this build recomputes: every
-- site-local date a version of a recomputed shift touches, a day either side (rounding and
-- the basis may move the billed interval across midnight).
{{ config(indexes=[{'columns': ['site_id', 'service_date']}]) }}
with

spans as (

    select
        spans.site_id,
        sites.timezone,
        spans.first_at,
        spans.last_at

    from {{ ref('int_shift_version_spans') }} as spans
    inner join {{ ref('stg_inbox__sites') }} as sites on spans.site_id = sites.site_id

)

select distinct
    spans.site_id,
    day.service_date

from spans
cross join lateral (
    select series.day::date as service_date
    from generate_series(
        ((spans.first_at at time zone spans.timezone)::date - 1)::timestamp,
        ((spans.last_at at time zone spans.timezone)::date + 1)::timestamp,
        interval '1 day'
    ) as series (day)
) as day
