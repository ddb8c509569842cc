-- billing-rules sections 2, 3 and 10: findings on guard shifts. Incremental: the findings
-- citing a shift int_shifts_to_judge names are deleted and judged again (a pair of
-- overlapping shifts is judged again when either of them is); `first_ref` and `second_ref`
-- are the shifts a finding is about.
{{ config(
    schema='intermediate',
    materialized='incremental',
    incremental_strategy='append',
    pre_hook=[
        "{{ delete_changed('first_ref', ref('int_shifts_to_judge'), 'source_ref') }}",
        "{{ delete_changed('second_ref', ref('int_shifts_to_judge'), 'source_ref') }}",
    ],
    indexes=[{'columns': ['first_ref']}, {'columns': ['second_ref']}],
) }}
with

matched as (

    select * from {{ ref('int_shifts_matched_to_contracts') }}

),

shifts as (

    select matched.*
    from matched
    inner join {{ ref('int_shifts_to_judge') }} as scope on matched.source_ref = scope.source_ref

),

tours as (

    select * from {{ ref('int_tours_matched_to_contracts') }}

),

longest as (

    select
        (select coalesce(max(matched.billed_minutes), 0) from matched) as billed_minutes,
        (select coalesce(max(tours.duration_minutes), 0) from tours) as tour_minutes

),

missing_checkout as (

    select
        'missing_checkout' as type,
        client_id,
        site_id,
        contract_id,
        service_date,
        array[source_ref] as evidence,
        format(
            'Shift %s of guard %s checked in at %s (site time) and has no check-out; it is not billed.',
            source_ref, guard_id, to_char(check_in_at at time zone site_timezone, 'YYYY-MM-DD HH24:MI')
        ) as message,
        source_ref as first_ref,
        null::text as second_ref

    from shifts
    where check_out_at is null

),

bad_interval as (

    select
        'bad_interval' as type,
        client_id,
        site_id,
        contract_id,
        service_date,
        array[source_ref] as evidence,
        format(
            'Shift %s checks out at %s, not after its check-in at %s (site time); it is not billed.',
            source_ref,
            to_char(check_out_at at time zone site_timezone, 'YYYY-MM-DD HH24:MI'),
            to_char(check_in_at at time zone site_timezone, 'YYYY-MM-DD HH24:MI')
        ) as message,
        source_ref as first_ref,
        null::text as second_ref

    from shifts
    where check_out_at <= check_in_at

),

contract_match as (

    select
        case match_status
            when 'unpriced' then 'missing_rate'
            when 'ambiguous' then 'ambiguous_contract'
            when 'outside_contract' then 'service_outside_contract'
        end as type,
        client_id,
        site_id,
        contract_id,
        service_date,
        array[source_ref] as evidence,
        case match_status
            when 'unpriced'
                then format(
                    'Shift %s (%s at %s on %s): no contract of client %s active that day has a rate for it; it is not billed.',
                    source_ref, service_type, site_id, service_date, client_id
                )
            when 'ambiguous'
                then format(
                    'Shift %s (%s at %s on %s) is priced by several contracts (%s); it is not billed until one is chosen.',
                    source_ref, service_type, site_id, service_date, array_to_string(candidate_contract_ids, ', ')
                )
            else format(
                'Shift %s at %s on %s falls outside every contract of client %s; it is not billed.',
                source_ref, site_id, service_date, client_id
            )
        end as message,
        source_ref as first_ref,
        null::text as second_ref

    from shifts
    where match_status <> 'matched'

),

-- two different shifts of one guard whose billed intervals overlap (one finding per pair).
-- Not a self-join of every shift of a guard: in time order, a shift overlaps an earlier one
-- exactly when the running maximum of the earlier ends passes its start, so only those few
-- are paired, with the guard's shifts around them. The shifts read are the judged ones'
-- guards' around the judged ones (all of them in a full build).
neighbourhood as (

    select matched.*
    from (
        select
            guard_id,
            min(billed_start_at) - (select longest.billed_minutes from longest) * interval '1 minute' as first_start_at,
            max(billed_end_at) as last_end_at
        from shifts
        group by guard_id
    ) as judged_guards
    inner join matched
        on
            judged_guards.guard_id = matched.guard_id
            and judged_guards.first_start_at <= matched.billed_start_at
            and matched.billed_start_at < judged_guards.last_end_at + (select longest.billed_minutes from longest)
            * interval '1 minute'

),

in_order as (

    select
        *,
        max(billed_end_at) over (
            partition by guard_id
            order by billed_start_at, source_ref
            rows between unbounded preceding and 1 preceding
        ) as previous_end_at

    from neighbourhood

),

overlapping_pairs as (

    select
        earlier.guard_id,
        earlier.client_id,
        earlier.site_id,
        earlier.contract_id,
        earlier.service_date,
        earlier.source_ref as earlier_ref,
        earlier.billed_start_at as earlier_start_at,
        earlier.billed_end_at as earlier_end_at,
        earlier.site_timezone as earlier_timezone,
        later.source_ref as later_ref,
        later.billed_start_at as later_start_at,
        later.billed_end_at as later_end_at,
        later.site_timezone as later_timezone

    from in_order as later
    inner join neighbourhood as earlier
        on
            later.guard_id = earlier.guard_id
            and later.source_ref <> earlier.source_ref
            and later.billed_start_at < earlier.billed_end_at
            and later.billed_end_at > earlier.billed_start_at
            and (earlier.billed_start_at, earlier.source_ref) < (later.billed_start_at, later.source_ref)
    where
        later.previous_end_at > later.billed_start_at
        and (
            exists (
                select 1 from shifts
                where shifts.source_ref = earlier.source_ref
            )
            or exists (
                select 1 from shifts
                where shifts.source_ref = later.source_ref
            )
        )

),

overlapping_shift as (

    select
        'overlapping_shift' as type,
        client_id,
        site_id,
        contract_id,
        service_date,
        array[least(earlier_ref, later_ref), greatest(earlier_ref, later_ref)] as evidence,
        format(
            'Guard %s has overlapping shifts %s (%s - %s) and %s (%s - %s, site time); the overlap is billed once.',
            guard_id,
            earlier_ref,
            to_char(earlier_start_at at time zone earlier_timezone, 'YYYY-MM-DD HH24:MI'),
            to_char(earlier_end_at at time zone earlier_timezone, 'YYYY-MM-DD HH24:MI'),
            later_ref,
            to_char(later_start_at at time zone later_timezone, 'YYYY-MM-DD HH24:MI'),
            to_char(later_end_at at time zone later_timezone, 'YYYY-MM-DD HH24:MI')
        ) as message,
        earlier_ref as first_ref,
        later_ref as second_ref

    from overlapping_pairs

),

schedule_deviation as (

    select
        'schedule_deviation' as type,
        client_id,
        site_id,
        contract_id,
        service_date,
        array[source_ref] as evidence,
        format(
            'Shift %s worked %s h against %s h scheduled (tolerance %s h).',
            source_ref,
            round(extract(epoch from check_out_at - check_in_at) / 3600, 2),
            round(extract(epoch from scheduled_end_at - scheduled_start_at) / 3600, 2),
            schedule_tolerance_hours
        ) as message,
        source_ref as first_ref,
        null::text as second_ref

    from shifts
    where
        has_valid_interval
        and has_valid_schedule
        and abs(
            extract(epoch from check_out_at - check_in_at)
            - extract(epoch from scheduled_end_at - scheduled_start_at)
        ) / 3600 > schedule_tolerance_hours

),

schedule_missing as (

    select
        'schedule_missing' as type,
        client_id,
        site_id,
        contract_id,
        service_date,
        array[source_ref] as evidence,
        format(
            'Shift %s has no scheduled times but contract %s bills scheduled hours; its actual times are billed.',
            source_ref, contract_id
        ) as message,
        source_ref as first_ref,
        null::text as second_ref

    from shifts
    where
        contract_id is not null
        and basis = 'scheduled'
        and has_valid_interval
        and not has_valid_schedule

),

shift_without_patrol_scans as (

    select
        'shift_without_patrol_scans' as type,
        shifts.client_id,
        shifts.site_id,
        shifts.contract_id,
        shifts.service_date,
        array[shifts.source_ref] as evidence,
        format(
            'Patrol shift %s of guard %s at %s has no patrol tour by that guard at that site during the shift.',
            shifts.source_ref, shifts.guard_id, shifts.site_id
        ) as message,
        shifts.source_ref as first_ref,
        null::text as second_ref

    from shifts
    where
        shifts.service_type = 'patrol'
        and shifts.has_valid_interval
        and not exists (
            select 1
            from tours
            where
                tours.guard_id = shifts.guard_id
                and tours.site_id = shifts.site_id
                and tours.started_at < shifts.check_out_at
                and tours.started_at >= shifts.check_in_at - (select longest.tour_minutes from longest) * interval '1 minute'
                and coalesce(tours.completed_at, tours.started_at) >= shifts.check_in_at
        )

)

select * from missing_checkout
union all
select * from bad_interval
union all
select * from contract_match
union all
select * from overlapping_shift
union all
select * from schedule_deviation
union all
select * from schedule_missing
union all
select * from shift_without_patrol_scans
