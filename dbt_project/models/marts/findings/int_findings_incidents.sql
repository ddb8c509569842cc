{{ config(materialized='ephemeral') }}
-- billing-rules sections 2, 5 and 10: findings on incident responses.
with

incidents as (

    select * from {{ ref('int_incidents_matched_to_contracts') }}

),

contract_match as (

    select
        case match_status
            when 'unpriced' then 'unpriced_incident'
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
                    'Incident %s at %s on %s: no contract of client %s active that day prices classification %s; it is not billed.',
                    source_ref, site_id, service_date, client_id, classification
                )
            when 'ambiguous'
                then format(
                    'Incident %s (%s at %s on %s) is priced by several contracts (%s); it is not billed until one is chosen.',
                    source_ref, classification, site_id, service_date, array_to_string(candidate_contract_ids, ', ')
                )
            else format(
                'Incident %s at %s on %s falls outside every contract of client %s; it is not billed.',
                source_ref, site_id, service_date, client_id
            )
        end as message

    from incidents
    where match_status <> 'matched'

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
            'Incident %s ends its response at %s, before it starts at %s (site time); it is not billed.',
            source_ref,
            to_char(response_ended_at at time zone site_timezone, 'YYYY-MM-DD HH24:MI'),
            to_char(response_started_at at time zone site_timezone, 'YYYY-MM-DD HH24:MI')
        ) as message

    from incidents
    where response_ended_at < response_started_at

)

select * from contract_match
union all
select * from bad_interval
