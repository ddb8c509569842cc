{{ config(materialized='ephemeral') }}
-- billing-rules sections 2, 6 and 10: findings on patrol tours.
with

-- the few tours with something to find (a partial index of int_tours_matched_to_contracts)
tours as (

    select * from {{ ref('int_tours_matched_to_contracts') }}
    where match_status <> 'matched' or checkpoints_scanned < checkpoints_required

),

missed_checkpoints as (

    select
        'missed_checkpoints' as type,
        client_id,
        site_id,
        contract_id,
        service_date,
        array[source_ref] as evidence,
        format(
            'Tour %s of guard %s at %s scanned %s of %s required checkpoints; it is not billed.',
            source_ref, guard_id, site_id, checkpoints_scanned, checkpoints_required
        ) as message

    from tours
    where checkpoints_scanned < checkpoints_required

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
                    'Tour %s at %s on %s: no contract of client %s active that day has a patrol visit fee; it is not billed.',
                    source_ref, site_id, service_date, client_id
                )
            when 'ambiguous'
                then format(
                    'Tour %s at %s on %s is priced by several contracts (%s); it is not billed until one is chosen.',
                    source_ref, site_id, service_date, array_to_string(candidate_contract_ids, ', ')
                )
            else format(
                'Tour %s at %s on %s falls outside every contract of client %s; it is not billed.',
                source_ref, site_id, service_date, client_id
            )
        end as message

    from tours
    where match_status <> 'matched'

)

select * from missed_checkpoints
union all
select * from contract_match
