{{ config(schema='intermediate', materialized='view') }}
-- billing-rules sections 2, 3 and 10: findings on guard shifts.
with

shifts as (

    select * from {{ ref('int_shifts_matched_to_contracts') }}

),

tours as (

    select * from {{ ref('int_tours_matched_to_contracts') }}

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
        ) as message

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
        ) as message

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
        end as message

    from shifts
    where match_status <> 'matched'

),

-- two different shifts of one guard whose billed intervals overlap (one finding per pair)
overlapping_shift as (

    select
        'overlapping_shift' as type,
        earlier.client_id,
        earlier.site_id,
        earlier.contract_id,
        earlier.service_date,
        array[least(earlier.source_ref, later.source_ref), greatest(earlier.source_ref, later.source_ref)] as evidence,
        format(
            'Guard %s has overlapping shifts %s (%s - %s) and %s (%s - %s, site time); the overlap is billed once.',
            earlier.guard_id,
            earlier.source_ref,
            to_char(earlier.billed_start_at at time zone earlier.site_timezone, 'YYYY-MM-DD HH24:MI'),
            to_char(earlier.billed_end_at at time zone earlier.site_timezone, 'YYYY-MM-DD HH24:MI'),
            later.source_ref,
            to_char(later.billed_start_at at time zone later.site_timezone, 'YYYY-MM-DD HH24:MI'),
            to_char(later.billed_end_at at time zone later.site_timezone, 'YYYY-MM-DD HH24:MI')
        ) as message

    from shifts as earlier
    inner join shifts as later
        on
            earlier.guard_id = later.guard_id
            and earlier.source_ref <> later.source_ref
            and earlier.billed_end_at > later.billed_start_at
            and earlier.billed_start_at < later.billed_end_at
            and (earlier.billed_start_at, earlier.source_ref) < (later.billed_start_at, later.source_ref)

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
        ) as message

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
        ) as message

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
        ) as message

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
