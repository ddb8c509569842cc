{{ config(materialized='ephemeral') }}
-- billing-rules sections 5 and 10 [ext]: incident_response_gap, a response whose time does
-- not match the guard hours billed around it. Judged for priced incidents (a contract
-- matches) with a responding guard and a valid interval. The response interval R is
-- rounded as section 5 says (the contract's increment, site-local hour); the responder's
-- billed shifts are the guard's matched shifts at the same site with a billed interval.
-- A finding when either
--   - no billed shift of the responder at the site overlaps R (the responder was not on a
--     billed shift: nothing billed around the response), or
--   - the minutes of R outside the responder's billed shifts exceed
--     var('incident_response_gap_minutes') (default 30).
-- Evidence: the incident and the overlapping shifts.
{%- set gap_minutes = var('incident_response_gap_minutes', 30) %}
with

incidents as (

    select
        incidents.*,
        {{ round_to_increment('incidents.response_started_at', 'incidents.site_timezone', 'contracts.increment_minutes') }}
            as response_start_at,
        {{ round_to_increment('incidents.response_ended_at', 'incidents.site_timezone', 'contracts.increment_minutes') }}
            as response_end_at

    from {{ ref('int_incidents_matched_to_contracts') }} as incidents
    inner join {{ ref('stg_inbox__contracts') }} as contracts on incidents.contract_id = contracts.contract_id
    where
        incidents.responder_guard_id is not null
        and incidents.response_ended_at > incidents.response_started_at

),

shifts as (

    select *
    from {{ ref('int_shifts_matched_to_contracts') }}
    where
        contract_id is not null
        and billed_end_at > billed_start_at

),

-- the longest billed shift bounds how far back a responder's shifts are looked up
longest as (

    select coalesce(max(billed_minutes), 0) as minutes from {{ ref('int_shifts_matched_to_contracts') }}

),

covered as (

    select
        incidents.source_ref,
        array_agg(shifts.source_ref order by shifts.source_ref) filter (where shifts.source_ref is not null)
            as shift_refs,
        coalesce(sum(extract(
            epoch from
            least(shifts.billed_end_at, incidents.response_end_at)
            - greatest(shifts.billed_start_at, incidents.response_start_at)
        ) / 60), 0) as covered_minutes

    from incidents
    left join shifts
        on
            incidents.responder_guard_id = shifts.guard_id
            and incidents.site_id = shifts.site_id
            and incidents.response_end_at > shifts.billed_start_at
            and incidents.response_start_at < shifts.billed_end_at
            and shifts.billed_start_at >= incidents.response_start_at - (select minutes from longest) * interval '1 minute'
    group by incidents.source_ref

),

judged as (

    select
        incidents.*,
        covered.shift_refs,
        extract(epoch from incidents.response_end_at - incidents.response_start_at) / 60 as response_minutes,
        greatest(
            extract(epoch from incidents.response_end_at - incidents.response_start_at) / 60
            - covered.covered_minutes,
            0
        ) as outside_minutes

    from incidents
    inner join covered on incidents.source_ref = covered.source_ref
    where incidents.response_end_at > incidents.response_start_at

)

select
    'incident_response_gap' as type,
    client_id,
    site_id,
    contract_id,
    service_date,
    array(
        select ref from unnest(array[source_ref] || coalesce(shift_refs, array[]::text[])) as ref
        group by ref
        order by ref
    ) as evidence,
    case
        when shift_refs is null
            then format(
                'Incident %s at %s on %s: responder %s responded %s min (%s - %s site time) with no billed shift at the site around the response.',
                source_ref, site_id, service_date, responder_guard_id, round(response_minutes::numeric),
                to_char(response_start_at at time zone site_timezone, 'HH24:MI'),
                to_char(response_end_at at time zone site_timezone, 'HH24:MI')
            )
        else format(
            'Incident %s at %s on %s: %s of the %s response minutes of responder %s lie outside the guard''s billed shifts (%s); more than %s min.',
            source_ref, site_id, service_date, round(outside_minutes::numeric), round(response_minutes::numeric),
            responder_guard_id, array_to_string(shift_refs, ', '), {{ gap_minutes }}
        )
    end as message

from judged
where
    shift_refs is null
    or outside_minutes > {{ gap_minutes }}
