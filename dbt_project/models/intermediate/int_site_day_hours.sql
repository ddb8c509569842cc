-- billing-rules section 10, hours_spike's input: a site's billed guard hours per site-local
-- date (matched shifts with a billed interval, split at site-local midnight) and the shifts
-- billed that day. Incremental: the site-days int_site_days_to_judge names are recomputed.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where (site_id, service_date) in"
        " (select site_id, service_date from {{ ref('int_site_days_to_judge') }}){% else %}select 1{% endif %}",
    indexes=[{'columns': ['site_id', 'service_date'], 'unique': True}],
) }}
with

scope as (

    select
        scope.site_id,
        scope.service_date,
        sites.timezone as site_timezone,
        scope.service_date::timestamp at time zone sites.timezone as day_start,
        (scope.service_date + 1)::timestamp at time zone sites.timezone as day_end

    from {{ ref('int_site_days_to_judge') }} as scope
    inner join {{ ref('stg_inbox__sites') }} as sites on scope.site_id = sites.site_id

),

matched as (

    select * from {{ ref('int_shifts_matched_to_contracts') }}

),

longest as (

    select coalesce(max(billed_minutes), 0) as minutes from matched

),

-- billed minutes of the scope's site-days, split at site-local midnight
shift_days as (

    select
        matched.source_ref,
        matched.client_id,
        scope.site_id,
        scope.service_date,
        least(matched.billed_end_at, scope.day_end) - greatest(matched.billed_start_at, scope.day_start)
            as billed_part

    from scope
    inner join matched
        on
            scope.site_id = matched.site_id
            and scope.day_end > matched.billed_start_at
            and matched.billed_start_at >= scope.day_start - (select minutes from longest) * interval '1 minute'
            and scope.day_start < matched.billed_end_at
    where
        matched.contract_id is not null
        and matched.billed_end_at > matched.billed_start_at

)

select
    site_id,
    service_date,
    min(client_id) as client_id,
    sum(extract(epoch from billed_part)) / 3600.0 as billed_hours,
    array_agg(distinct source_ref order by source_ref) as evidence

from shift_days
group by site_id, service_date
having sum(extract(epoch from billed_part)) > 0
