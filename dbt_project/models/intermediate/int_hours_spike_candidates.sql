-- billing-rules section 10, hours_spike before the incident test: a site's billed guard
-- hours on a date above median + max(3 x MAD, 1 h) of its days with hours among the 28
-- before (at least 14 such days). Incremental: a recomputed site-day changes the judgment
-- of its own date and of the 28 after it, so those are judged again.
-- depends_on: {{ ref('int_site_days_to_judge') }}
{%- set window_days = var('hours_spike_window_days', 28) %}
{%- set min_history_days = var('hours_spike_min_history_days', 14) %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{% if is_incremental() %}delete from {{ this }} as judged where exists (select 1 from "
        "{{ ref('int_site_days_to_judge') }} as scope where scope.site_id = judged.site_id and "
        "judged.service_date between scope.service_date and scope.service_date + "
        "{{ var('hours_spike_window_days', 28) }}){% else %}select 1{% endif %}",
    indexes=[{'columns': ['site_id', 'service_date'], 'unique': True}],
) }}
with

site_days as (

    select * from {{ ref('int_site_day_hours') }}

),

judged_days as (

    select site_days.*
    from site_days
    {% if is_incremental() %}
        where exists (
            select 1 from {{ ref('int_site_days_to_judge') }} as scope
            where
                scope.site_id = site_days.site_id
                and site_days.service_date between scope.service_date and scope.service_date + {{ window_days }}
        )
    {% endif %}

),

history as (

    select
        judged_days.site_id,
        judged_days.service_date,
        previous.billed_hours as previous_hours

    from judged_days
    inner join site_days as previous
        on
            judged_days.site_id = previous.site_id
            and previous.service_date between judged_days.service_date - {{ window_days }}
            and judged_days.service_date - 1

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

)

select
    judged_days.site_id,
    judged_days.service_date,
    judged_days.client_id,
    judged_days.billed_hours,
    judged_days.evidence,
    medians.history_days,
    medians.median_hours,
    deviations.mad_hours

from judged_days
inner join medians
    on judged_days.site_id = medians.site_id and judged_days.service_date = medians.service_date
inner join deviations
    on judged_days.site_id = deviations.site_id and judged_days.service_date = deviations.service_date
where
    medians.history_days >= {{ min_history_days }}
    and judged_days.billed_hours > medians.median_hours + greatest(3 * deviations.mad_hours, 1)
